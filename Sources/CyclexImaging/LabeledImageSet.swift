import CImageCodecs
import CyclexEngine
import Foundation

/// An IDX array (the MNIST file format): big-endian header `0 0 type rank`, `rank` UInt32
/// dimensions, then the data. Only unsigned-byte data (type 0x08, what MNIST and Fashion-MNIST
/// use) is supported. Gzipped files are inflated transparently.
public struct IDXArray: Sendable, Equatable {
    public let dimensions: [Int]
    public let values: [UInt8]

    public init(contentsOf url: URL, limits: ImageLimits? = nil) throws {
        let path = url.path
        var bounds = try (limits ?? ImageLimits.checkedCurrent()).raw
        var buffer: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 512)
        let code = cx_read_maybe_gzip(path, &bounds, &buffer, &size, &message, message.count)
        defer { cx_free_buffer(buffer) }
        guard code == CX_OK, let buffer else {
            let reason = String(decoding: message)
            throw code == CX_ERR_OPEN ? ImageError.cannotOpen(path: path, reason: reason)
                : code == CX_ERR_MEMORY ? ImageError.tooLarge(path: path, reason: reason)
                : ImageError.invalidIDX(path: path, reason: reason)
        }
        try self.init(bytes: UnsafeBufferPointer(start: buffer, count: size), path: path)
    }

    /// Parses IDX bytes held in memory; `name` is used in error messages.
    public init(bytes: [UInt8], name: String = "<memory>") throws {
        self = try bytes.withUnsafeBufferPointer { try IDXArray(bytes: $0, path: name) }
    }

    /// Validates the header against the data before copying: dimensions are 32-bit each and their
    /// product is overflow-checked, so a header cannot ask for more than the file holds.
    init(bytes: UnsafeBufferPointer<UInt8>, path: String) throws {
        guard bytes.count >= 4 else { throw ImageError.invalidIDX(path: path, reason: "file is only \(bytes.count) bytes") }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw ImageError.invalidIDX(path: path, reason: "bad magic number (expected 0x0000 then type and rank)")
        }
        guard bytes[2] == 0x08 else {
            throw ImageError.invalidIDX(path: path, reason: String(format: "data type 0x%02X not supported (only unsigned bytes, 0x08)", bytes[2]))
        }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else {
            throw ImageError.invalidIDX(path: path, reason: "header for rank \(rank) is truncated")
        }
        var dimensions: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dimensions.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw ImageError.invalidIDX(path: path, reason: "dimensions \(dimensions) overflow") }
            expected = product
        }
        let available = bytes.count - 4 - 4 * rank
        guard available >= expected else {
            throw ImageError.invalidIDX(path: path, reason: "dimensions \(dimensions) need \(expected) bytes of data, file has \(available) (truncated?)")
        }
        self.dimensions = dimensions
        values = Array(bytes[(4 + 4 * rank)..<(4 + 4 * rank + expected)])
    }
}

/// Gray images with integer class labels: MNIST, Fashion-MNIST and subsets of them.
/// Images are `count × height × width` uint8, row-major.
public struct LabeledImageSet: Sendable, Equatable {
    public let height: Int
    public let width: Int
    public private(set) var pixels: [UInt8]
    public private(set) var labels: [UInt8]

    public var count: Int { labels.count }

    public init(height: Int, width: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == height * width * labels.count, "pixel count does not match the labels")
        (self.height, self.width, self.pixels, self.labels) = (height, width, pixels, labels)
    }

    /// An images file (rank 3) and its labels file (rank 1).
    /// - Throws: `ImageError.invalidIDX` when the ranks or counts disagree.
    public init(images: URL, labels: URL) throws {
        let imageArray = try IDXArray(contentsOf: images), labelArray = try IDXArray(contentsOf: labels)
        guard imageArray.dimensions.count == 3 else {
            throw ImageError.invalidIDX(path: images.path, reason: "expected images of rank 3, found dimensions \(imageArray.dimensions)")
        }
        guard labelArray.dimensions.count == 1, labelArray.dimensions[0] == imageArray.dimensions[0] else {
            throw ImageError.invalidIDX(
                path: labels.path,
                reason: "expected \(imageArray.dimensions[0]) labels (rank 1) for \(images.lastPathComponent), found dimensions \(labelArray.dimensions)")
        }
        self.init(height: imageArray.dimensions[1], width: imageArray.dimensions[2],
                  pixels: imageArray.values, labels: labelArray.values)
    }

    public enum Split: String, Sendable, CaseIterable {
        case train, test
        /// Train followed by test (70,000 images), what xAI-GAN trains on (docs/training.md#single-gan-data).
        case all
    }

    /// Loads MNIST-layout files from `directory`: `train-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
    /// …, with "-" or "." before "idx" and with or without ".gz" (both MNIST and Debian's
    /// Fashion-MNIST spellings).
    public static func mnist(directory: URL, split: Split = .all) throws -> LabeledImageSet {
        func find(_ prefix: String, _ kind: String) throws -> URL {
            for separator in ["-", "."] {
                for suffix in ["", ".gz"] {
                    let url = directory.appendingPathComponent("\(prefix)\(separator)\(kind)-ubyte\(suffix)")
                    if FileManager.default.fileExists(atPath: url.path) { return url }
                }
            }
            throw ImageError.cannotOpen(path: directory.appendingPathComponent("\(prefix)-\(kind)-ubyte[.gz]").path,
                                        reason: "no such file (also tried '.' before idx and no .gz)")
        }
        func load(_ prefix: String) throws -> LabeledImageSet {
            try LabeledImageSet(images: try find(prefix + "-images", "idx3"), labels: try find(prefix + "-labels", "idx1"))
        }
        switch split {
        case .train: return try load("train")
        case .test: return try load("t10k")
        case .all: return try load("train").appending(try load("t10k"))
        }
    }

    /// This set followed by `other` (same image size).
    public func appending(_ other: LabeledImageSet) -> LabeledImageSet {
        precondition(other.height == height && other.width == width, "image sizes differ")
        return LabeledImageSet(height: height, width: width, pixels: pixels + other.pixels, labels: labels + other.labels)
    }

    /// Only the images whose label is in `classes`, in their original order.
    public func selecting(classes: Set<Int>) -> LabeledImageSet {
        let plane = height * width
        var keptPixels: [UInt8] = [], keptLabels: [UInt8] = []
        for i in 0..<count where classes.contains(Int(labels[i])) {
            keptLabels.append(labels[i])
            keptPixels.append(contentsOf: pixels[i * plane..<(i + 1) * plane])
        }
        return LabeledImageSet(height: height, width: width, pixels: keptPixels, labels: keptLabels)
    }

    /// The first `Int(fraction · count)` images: xAI-GAN's data-efficiency subsets are this
    /// deterministic prefix (docs/training.md#single-gan-data), shuffled later by the sampler.
    public func prefix(fraction: Double) -> LabeledImageSet {
        precondition(fraction >= 0 && fraction <= 1, "fraction must be in 0...1")
        let kept = Int(fraction * Double(count))
        return LabeledImageSet(height: height, width: width, pixels: Array(pixels[0..<kept * height * width]),
                               labels: Array(labels[0..<kept]))
    }

    /// Image `index` as a 1-channel 8-bit `Image`.
    public func image(at index: Int) -> Image {
        let plane = height * width
        return Image(width: width, height: height, channels: 1, samples: Array(pixels[index * plane..<(index + 1) * plane]))
    }

    /// Image `index` resized to `side`² with PIL's algorithm, as CHW floats in [−1, 1], shape
    /// `[1, side, side]`. The xAI-GAN MNIST input is side 32 with `.bilinear` (docs/training.md#single-gan-data).
    public func scalars(at index: Int, side: Int = 32, filter: ResizeFilter = .bilinear) -> [Float] {
        image(at: index).resized(to: ImageSize(square: side), filter: filter).chwScalars()
    }

    /// A batch `[indices.count, 1, side, side]` in [−1, 1] (see `scalars(at:side:filter:)`).
    public func batch(_ indices: [Int], side: Int = 32, filter: ResizeFilter = .bilinear) -> Tensor {
        var scalars: [Float] = []
        scalars.reserveCapacity(indices.count * side * side)
        for index in indices { scalars.append(contentsOf: self.scalars(at: index, side: side, filter: filter)) }
        return Tensor(shape: [indices.count, 1, side, side], scalars: scalars)
    }
}
