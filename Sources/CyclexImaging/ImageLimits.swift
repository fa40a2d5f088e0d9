import CImageCodecs
import Foundation

/// Limits on untrusted image and data files, checked from a file's header before anything is
/// allocated: a 4 KB JPEG can declare 65500×33000 pixels, a progressive one thousands of scans,
/// a small gzip file gigabytes of content.
///
/// | limit | default | environment variable |
/// |---|---|---|
/// | pixels per image (width × height) | 100,000,000 | `CYCLEX_MAX_IMAGE_PIXELS` |
/// | width or height | 65,535 | `CYCLEX_MAX_IMAGE_SIDE` |
/// | scans of a progressive JPEG | 500 | `CYCLEX_MAX_JPEG_SCANS` |
/// | bytes of an (inflated) IDX file | 4 GiB | `CYCLEX_MAX_FILE_BYTES` |
///
/// libjpeg's own working memory is capped at 10 bytes per allowed pixel (a progressive file
/// keeps 2 bytes per sample per component), PNG ancillary chunks at 8 MB each. The variables are
/// read once, at the first decode; `ImageLimits.current` changes the process-wide limits, and
/// every reader also takes explicit `limits`.
public struct ImageLimits: Equatable, Sendable {
    public var maxPixels: UInt64
    public var maxSide: UInt32
    public var maxJPEGScans: UInt32
    public var maxFileBytes: UInt64

    public static let defaults = ImageLimits(maxPixels: 100_000_000, maxSide: 65_535, maxJPEGScans: 500, maxFileBytes: 1 << 32)

    public init(maxPixels: UInt64, maxSide: UInt32, maxJPEGScans: UInt32, maxFileBytes: UInt64) {
        (self.maxPixels, self.maxSide, self.maxJPEGScans, self.maxFileBytes) = (maxPixels, maxSide, maxJPEGScans, maxFileBytes)
    }

    /// The limits every decode uses now (process-wide).
    public static var current: ImageLimits {
        get {
            _ = environmentApplied
            let l = cx_get_limits()
            return ImageLimits(maxPixels: l.max_pixels, maxSide: l.max_side, maxJPEGScans: l.max_jpeg_scans, maxFileBytes: l.max_file_bytes)
        }
        set {
            _ = environmentApplied
            precondition(newValue.maxPixels > 0 && newValue.maxSide > 0 && newValue.maxJPEGScans > 0 && newValue.maxFileBytes > 0,
                         "image limits must be positive")
            cx_set_limits(cx_limits(max_pixels: newValue.maxPixels, max_side: newValue.maxSide,
                                    max_jpeg_scans: newValue.maxJPEGScans, max_file_bytes: newValue.maxFileBytes))
        }
    }

    /// Limits from `environment` over `defaults`; throws naming the variable for a value that is
    /// not a positive integer (or is out of its type's range).
    public static func fromEnvironment(_ environment: [String: String]) throws -> ImageLimits {
        var limits = defaults
        func read<T: FixedWidthInteger>(_ name: String, _ type: T.Type) throws -> T? {
            guard let text = environment[name] else { return nil }
            let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
            guard let value = T(trimmed), value > 0 else {
                throw ImageError.invalidOption("\(name)=\(text): expected a positive integer up to \(T.max)")
            }
            return value
        }
        if let v = try read("CYCLEX_MAX_IMAGE_PIXELS", UInt64.self) { limits.maxPixels = v }
        if let v = try read("CYCLEX_MAX_IMAGE_SIDE", UInt32.self) { limits.maxSide = v }
        if let v = try read("CYCLEX_MAX_JPEG_SCANS", UInt32.self) { limits.maxJPEGScans = v }
        if let v = try read("CYCLEX_MAX_FILE_BYTES", UInt64.self) { limits.maxFileBytes = v }
        return limits
    }

    /// A malformed limit variable, reported by every decode (so the message reaches the user
    /// instead of silently falling back to the default).
    private static let environmentError: ImageError? = {
        do {
            let limits = try fromEnvironment(ProcessInfo.processInfo.environment)
            cx_set_limits(cx_limits(max_pixels: limits.maxPixels, max_side: limits.maxSide,
                                    max_jpeg_scans: limits.maxJPEGScans, max_file_bytes: limits.maxFileBytes))
            return nil
        } catch {
            return error as? ImageError
        }
    }()

    private static let environmentApplied: Void = { _ = environmentError }()

    /// `current`, or the error of a malformed limit variable.
    static func checkedCurrent() throws -> ImageLimits {
        if let environmentError { throw environmentError }
        return current
    }

    /// The C shim's form.
    var raw: cx_limits {
        cx_limits(max_pixels: maxPixels, max_side: maxSide, max_jpeg_scans: maxJPEGScans, max_file_bytes: maxFileBytes)
    }
}
