import CyclexImaging
import Foundation

/// A fresh folder under the system temporary directory, removed by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ relativePath: String) -> URL { url.appendingPathComponent(relativePath) }

    /// Writes `bytes` at `relativePath`, creating intermediate folders.
    @discardableResult
    func write(_ bytes: [UInt8], to relativePath: String) throws -> URL {
        let target = file(relativePath)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: target)
        return target
    }

    func makeFolder(_ relativePath: String) throws {
        try FileManager.default.createDirectory(at: file(relativePath), withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

func readBytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

/// A deterministic test picture: smooth gradients and a few edges, so JPEG round trips stay close.
func smoothImage(width: Int, height: Int, channels: Int, seed: Int = 0) -> Image {
    var samples = [UInt8](repeating: 0, count: width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let phase = Double(c * 37 + seed)
                var v = 128 + 90 * sin(Double(x) / 7.0 + phase) * cos(Double(y) / 9.0 - phase / 3)
                if c == channels - 1 && (channels == 2 || channels == 4) { v = Double((x * 5 + y * 3 + seed) % 256) }
                samples[(y * width + x) * channels + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
    }
    return Image(width: width, height: height, channels: channels, samples: samples)
}

/// Noise-like samples covering the whole range (for lossless round trips).
func noiseImage(width: Int, height: Int, channels: Int, sixteenBit: Bool, seed: UInt64 = 1) -> Image {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    let count = width * height * channels
    if sixteenBit {
        return Image(width: width, height: height, channels: channels, samples: (0..<count).map { _ in UInt16(truncatingIfNeeded: next()) })
    }
    return Image(width: width, height: height, channels: channels, samples: (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) })
}

/// PSNR in dB between two same-shape 8-bit images.
func psnr(_ a: Image, _ b: Image) -> Double {
    let x = a.samples8!, y = b.samples8!
    var sum = 0.0
    for i in 0..<x.count {
        let d = Double(x[i]) - Double(y[i])
        sum += d * d
    }
    let mse = sum / Double(x.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}

// MARK: - Hand-built PNG and gzip files (independent of libpng's encoder)

enum Checksums {
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return (b << 16) | a
    }

    /// Deflate "stored" blocks (no compression).
    static func storedDeflate(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let final: UInt8 = offset + n == data.count ? 1 : 0
            out.append(final)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<offset + n]
            offset += n
        } while offset < data.count
        return out
    }

    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        let adler = adler32(data)
        return [0x78, 0x01] + storedDeflate(data) + bigEndian(adler)
    }

    static func gzipStored(_ data: [UInt8]) -> [UInt8] {
        let crc = crc32(data), size = UInt32(truncatingIfNeeded: data.count)
        return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF] + storedDeflate(data) + littleEndian(crc) + littleEndian(size)
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func littleEndian(_ v: UInt32) -> [UInt8] { bigEndian(v).reversed() }
}

/// A minimal PNG writer for decoder tests: any colour type and bit depth, PLTE and tRNS chunks,
/// Adam7 interlacing, filter type 0, stored deflate.
struct HandPNG {
    var width: Int
    var height: Int
    var bitDepth: Int
    /// 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
    var colorType: Int
    var interlaced = false
    var palette: [(UInt8, UInt8, UInt8)] = []
    var transparency: [UInt8] = []
    /// One array of integer samples per pixel (index for palette images).
    var pixels: [[Int]]

    var samplesPerPixel: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }

    func encode() -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            png += Checksums.bigEndian(UInt32(data.count)) + body + Checksums.bigEndian(Checksums.crc32(body))
        }
        chunk("IHDR", Checksums.bigEndian(UInt32(width)) + Checksums.bigEndian(UInt32(height))
              + [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0])
        if !palette.isEmpty { chunk("PLTE", palette.flatMap { [$0.0, $0.1, $0.2] }) }
        if !transparency.isEmpty { chunk("tRNS", transparency) }
        var raw: [UInt8] = []
        let passes = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        for (x0, y0, dx, dy) in passes {
            let columns = Array(stride(from: x0, to: width, by: dx)), rows = Array(stride(from: y0, to: height, by: dy))
            if columns.isEmpty || rows.isEmpty { continue }
            for y in rows {
                raw.append(0)  // filter type None
                var bits: [Int] = []  // (value, width) pairs flattened for packing
                for x in columns {
                    for s in pixels[y * width + x] { bits.append(s) }
                }
                raw += pack(bits)
            }
        }
        chunk("IDAT", Checksums.zlibStored(raw))
        chunk("IEND", [])
        return png
    }

    private func pack(_ samples: [Int]) -> [UInt8] {
        switch bitDepth {
        case 16: return samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        case 8: return samples.map { UInt8($0) }
        default:
            var out: [UInt8] = [], current = 0, used = 0
            for s in samples {
                current = (current << bitDepth) | s
                used += bitDepth
                if used == 8 { out.append(UInt8(current)); current = 0; used = 0 }
            }
            if used > 0 { out.append(UInt8(current << (8 - used))) }
            return out
        }
    }
}

/// Inserts an EXIF APP1 segment with the given orientation right after a JPEG's SOI marker.
func jpegWithOrientation(_ jpeg: [UInt8], orientation: UInt16, bigEndian: Bool) -> [UInt8] {
    func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] { bigEndian ? Checksums.bigEndian(v) : Checksums.littleEndian(v) }
    var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
    tiff += u16(42) + u32(8)
    tiff += u16(2)  // two entries: an unrelated tag first, then Orientation
    tiff += u16(0x010F) + u16(2) + u32(4) + Array("Abc\0".utf8)  // Make, ASCII, inline
    tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0)
    tiff += u32(0)
    let payload = Array("Exif\0\0".utf8) + tiff
    let length = UInt16(payload.count + 2)
    return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + jpeg[2...]
}

/// Writes an IDX file (unsigned bytes).
func idxBytes(dimensions: [Int], values: [UInt8]) -> [UInt8] {
    [0, 0, 0x08, UInt8(dimensions.count)] + dimensions.flatMap { Checksums.bigEndian(UInt32($0)) } + values
}
