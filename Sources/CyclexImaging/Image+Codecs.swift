import CImageCodecs
import Foundation

/// An image file format and its encoder options.
public enum ImageFileFormat: Sendable, Equatable {
    /// PNG, 8 or 16 bit, 1–4 channels, lossless. `compressionLevel` is zlib's 0–9.
    case png(compressionLevel: Int = 6)
    /// JPEG, 8-bit gray or RGB (alpha is composited on white, 16-bit reduced to 8). `quality` 1–100.
    case jpeg(quality: Int = 95, progressive: Bool = false)

    /// The format that a file name's extension asks for (`.png`, `.jpg`, `.jpeg`), if any.
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "png": self = .png()
        case "jpg", "jpeg": self = .jpeg()
        default: return nil
        }
    }
}

extension Image {
    /// Decodes a PNG or JPEG file (the format is sniffed from the bytes, not the name).
    ///
    /// PNG: 8/16-bit gray, gray + alpha, RGB, RGBA, palette (→ RGB/RGBA), 1/2/4-bit gray (→ 8-bit),
    /// interlaced; 16-bit samples are kept. JPEG: baseline, progressive, gray (1 channel), CMYK/YCCK
    /// (→ RGB); EXIF orientation is applied so phone photos come out upright.
    /// Images over `limits` (default `ImageLimits.current`) are refused from their header, before
    /// any allocation.
    /// - Throws: `ImageError` naming the file and the problem (missing, truncated, corrupt, not an
    ///   image, too large).
    public init(contentsOf url: URL, limits: ImageLimits? = nil) throws {
        let path = url.path
        var bounds = try (limits ?? ImageLimits.checkedCurrent()).raw
        var raw = cx_image()
        var message = [CChar](repeating: 0, count: 512)
        let code = cx_read_image(path, &bounds, &raw, &message, message.count)
        defer { cx_free_image(&raw) }
        guard code == CX_OK else { throw Image.error(code: code, path: path, message: message) }
        self = Image(raw: raw)
    }

    /// Decodes PNG or JPEG bytes held in memory; `name` is used in error messages.
    public init(decoding bytes: [UInt8], name: String = "<memory>", limits: ImageLimits? = nil) throws {
        var bounds = try (limits ?? ImageLimits.checkedCurrent()).raw
        var raw = cx_image()
        var message = [CChar](repeating: 0, count: 512)
        let code = bytes.withUnsafeBufferPointer { buffer in
            cx_decode_image(buffer.baseAddress, buffer.count, &bounds, &raw, &message, message.count)
        }
        defer { cx_free_image(&raw) }
        guard code == CX_OK else { throw Image.error(code: code, path: name, message: message) }
        self = Image(raw: raw)
    }

    /// Copies a decoded C image into Swift arrays.
    private init(raw: cx_image) {
        let (w, h, c) = (Int(raw.width), Int(raw.height), Int(raw.channels))
        let count = w * h * c
        if raw.depth == 16 {
            let source = raw.pixels.assumingMemoryBound(to: UInt16.self)
            self.init(width: w, height: h, channels: c,
                      samples: [UInt16](UnsafeBufferPointer(start: source, count: count)))
        } else {
            let source = raw.pixels.assumingMemoryBound(to: UInt8.self)
            self.init(width: w, height: h, channels: c,
                      samples: [UInt8](UnsafeBufferPointer(start: source, count: count)))
        }
    }

    /// Encodes the image to `url`. Without a `format`, the file extension decides (`.png`, `.jpg`,
    /// `.jpeg`). A partial file is removed when encoding fails.
    public func write(to url: URL, format: ImageFileFormat? = nil) throws {
        let path = url.path
        guard let format = format ?? ImageFileFormat(pathExtension: url.pathExtension) else {
            throw ImageError.cannotWrite(
                path: path, reason: "unknown image extension '.\(url.pathExtension)' (use .png, .jpg or .jpeg)")
        }
        guard width > 0, height > 0 else { throw ImageError.cannotWrite(path: path, reason: "the image is empty") }
        var message = [CChar](repeating: 0, count: 512)
        var image = self
        let code: Int32
        switch format {
        case let .png(level):
            code = image.withRawImage { raw in cx_png_write(path, &raw, Int32(level), &message, message.count) }
        case let .jpeg(quality, progressive):
            if image.hasAlpha { image = image.converted(toChannels: image.channels - 1) }
            if image.bitDepth == 16 { image = image.converted(toBitDepth: 8) }
            code = image.withRawImage { raw in
                cx_jpeg_write(path, &raw, Int32(quality), progressive ? 1 : 0, &message, message.count)
            }
        }
        guard code == CX_OK else {
            throw ImageError.cannotWrite(path: path, reason: String(decoding: message))
        }
    }

    /// Calls `body` with a `cx_image` that borrows this image's samples.
    func withRawImage(_ body: (inout cx_image) -> Int32) -> Int32 {
        func call<T>(_ values: [T], depth: Int32) -> Int32 {
            values.withUnsafeBufferPointer { buffer in
                var raw = cx_image(
                    width: Int32(width), height: Int32(height), channels: Int32(channels), depth: depth,
                    exif_orientation: 1, pixels: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
                return body(&raw)
            }
        }
        switch samples {
        case let .uint8(values): return call(values, depth: 8)
        case let .uint16(values): return call(values, depth: 16)
        }
    }

    static func error(code: Int32, path: String, message: [CChar]) -> ImageError {
        let reason = String(decoding: message)
        switch Int(code) {
        case CX_ERR_OPEN: return .cannotOpen(path: path, reason: reason)
        case CX_ERR_FORMAT, CX_ERR_UNSUPPORTED: return .unsupportedFormat(path: path, reason: reason)
        case CX_ERR_MEMORY: return .tooLarge(path: path, reason: reason)
        default: return .corrupt(path: path, reason: reason)
        }
    }
}

extension String {
    /// A NUL-terminated C message buffer as a String.
    init(decoding buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
