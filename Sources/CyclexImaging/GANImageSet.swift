import CyclexEngine
import Foundation

/// Training images of a single GAN, held as 8-bit CHW samples already resized to `side`²
/// (60,000 MNIST images at 32×32 take 61 MB), with integer class labels and class names.
///
/// Sources (`load(from:channels:side:split:)`):
/// - a folder of IDX files in MNIST naming (`train-images-idx3-ubyte[.gz]`, `t10k-…`, "-" or "."
///   before "idx"): MNIST, Fashion-MNIST; classes are the label values 0–9;
/// - an image folder: with class sub-folders (every image lives in a direct sub-folder; classes
///   are the sub-folder names in sorted order) or without (one class, named after the folder).
/// Images are resized with PIL's bilinear filter (xAI-GAN's 28 → 32), folder images after a
/// centre crop to a square; gray and colour are converted to `channels`.
public struct GANImageSet: Sendable {
    public let channels: Int
    public let side: Int
    /// `count × channels × side × side` samples.
    public private(set) var pixels: [UInt8]
    public private(set) var labels: [Int]
    /// Name of class k (IDX: "0" … "9").
    public let classNames: [String]
    /// Where the images came from and what was skipped (for the user).
    public var notes: [String] = []

    public var count: Int { labels.count }

    public init(channels: Int, side: Int, pixels: [UInt8], labels: [Int], classNames: [String]) {
        precondition(pixels.count == channels * side * side * labels.count, "pixel count does not match the labels")
        (self.channels, self.side, self.pixels, self.labels, self.classNames) = (channels, side, pixels, labels, classNames)
    }

    /// Which IDX split to read.
    public enum Split: String, Sendable, CaseIterable, Codable {
        case train, test
        /// Train followed by test, what xAI-GAN trains on.
        case all
    }

    /// Whether `folder` holds MNIST-named IDX files (the training images file decides).
    public static func isIDXFolder(_ folder: URL) -> Bool {
        ["train-images-idx3-ubyte", "train-images.idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"]
            .flatMap { [$0, $0 + ".gz"] }
            .contains { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }

    /// Loads `folder` (IDX or images, see the type's description). `split` applies to IDX folders;
    /// image folders have no split (all their images are used). Unreadable images are skipped
    /// and named in `notes`; a folder with no readable image is an error naming it.
    public static func load(from folder: URL, channels: Int, side: Int = 32, split: Split = .train) throws -> GANImageSet {
        precondition((1...4).contains(channels) && side >= 1, "invalid channels/side")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw ImageError.missingFolder(path: folder.path)
        }
        guard isDirectory.boolValue else { throw ImageError.notAFolder(path: folder.path) }
        if isIDXFolder(folder) {
            let set = try LabeledImageSet.mnist(directory: folder, split: LabeledImageSet.Split(rawValue: split.rawValue)!)
            return fromLabeled(set, channels: channels, side: side)
        }
        return try fromImageFolder(folder, channels: channels, side: side)
    }

    /// An IDX set resized to `side` and converted to `channels`.
    public static func fromLabeled(_ set: LabeledImageSet, channels: Int, side: Int) -> GANImageSet {
        let plane = channels * side * side
        var pixels = [UInt8](repeating: 0, count: set.count * plane)
        for i in 0..<set.count {
            let image = set.image(at: i).resized(to: ImageSize(square: side), filter: .bilinear).converted(toChannels: channels)
            let samples = image.samples8!
            let chw = interleavedToPlanar(samples, channels: channels, pixels: side * side)
            pixels.replaceSubrange(i * plane..<(i + 1) * plane, with: chw)
        }
        let names = (0...(set.labels.max().map(Int.init) ?? 0)).map(String.init)
        var result = GANImageSet(channels: channels, side: side, pixels: pixels, labels: set.labels.map(Int.init),
                                 classNames: names)
        result.notes = ["\(set.count) IDX images (\(set.height)×\(set.width) gray) resized to \(side)×\(side)"]
        return result
    }

    static func interleavedToPlanar(_ samples: [UInt8], channels: Int, pixels: Int) -> [UInt8] {
        if channels == 1 { return samples }
        var out = [UInt8](repeating: 0, count: samples.count)
        for p in 0..<pixels { for c in 0..<channels { out[c * pixels + p] = samples[p * channels + c] } }
        return out
    }

    static func fromImageFolder(_ folder: URL, channels: Int, side: Int) throws -> GANImageSet {
        let listing = try ImageFolder(folder)
        // Class sub-folders: every image's relative path has exactly two components.
        let relative = listing.files.map { listing.relativePath(of: $0).split(separator: "/").map(String.init) }
        let byClass = relative.allSatisfy { $0.count == 2 }
        let classNames = byClass ? Array(Set(relative.map { $0[0] })).sorted() : [folder.standardizedFileURL.lastPathComponent]
        let classIndex = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        let plane = channels * side * side
        var pixels: [UInt8] = [], labels: [Int] = [], skipped: [String] = []
        pixels.reserveCapacity(listing.count * plane)
        for (url, parts) in zip(listing.files, relative) {
            do {
                var image = try Image(contentsOf: url).converted(toBitDepth: 8)
                let short = min(image.width, image.height)
                image = image.centerCropped(to: ImageSize(square: short))
                image = image.resized(to: ImageSize(square: side), filter: .bilinear).converted(toChannels: channels)
                pixels += interleavedToPlanar(image.samples8!, channels: channels, pixels: side * side)
                labels.append(byClass ? classIndex[parts[0]]! : 0)
            } catch {
                skipped.append(error.localizedDescription)
            }
        }
        guard !labels.isEmpty else {
            throw ImageError.emptyFolder(path: folder.path, detail: "none of its \(listing.count) images could be read; first: \(skipped.first ?? "?")")
        }
        var result = GANImageSet(channels: channels, side: side, pixels: pixels, labels: labels, classNames: classNames)
        result.notes.append("\(labels.count) images from \(folder.path)"
            + (byClass ? " in \(classNames.count) class folders" : " (no class folders)") + ", resized to \(side)×\(side)")
        if !skipped.isEmpty { result.notes.append("skipped \(skipped.count) unreadable image(s), e.g. \(skipped[0])") }
        if !listing.unsupportedFiles.isEmpty {
            result.notes.append("ignored \(listing.unsupportedFiles.count) file(s) in formats cyclex does not read, e.g. \(listing.unsupportedFiles[0].lastPathComponent)")
        }
        return result
    }

    /// The class indices `names` refer to: a class name, else a number taken as the index.
    /// - Throws: `ImageError.invalidOption` naming `flag` and the classes that exist.
    public func classIndices(_ names: [String], flag: String = "--classes") throws -> Set<Int> {
        var result: Set<Int> = []
        for name in names {
            if let index = classNames.firstIndex(of: name) {
                result.insert(index)
            } else if let index = Int(name), classNames.indices.contains(index) {
                result.insert(index)
            } else {
                throw ImageError.invalidOption("\(flag) \(name): no such class; the data has \(classNames.count) classes: "
                    + classNames.prefix(20).joined(separator: ", ") + (classNames.count > 20 ? ", …" : ""))
            }
        }
        return result
    }

    /// Only the images of `classes`, in their order.
    public func selecting(classes: Set<Int>) -> GANImageSet {
        keeping((0..<count).filter { classes.contains(labels[$0]) })
    }

    /// A seeded random subset of ⌊fraction · count⌋ images (at least one), kept in their order:
    /// the first images of a permutation drawn from `seed`.
    public func subset(fraction: Double, seed: UInt64) -> GANImageSet {
        precondition(fraction > 0 && fraction <= 1, "fraction must be in (0, 1]")
        if fraction == 1 { return self }
        var g = RandomGenerator(seed: seed)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
        let kept = max(1, Int(fraction * Double(count)))
        return keeping(order.prefix(kept).sorted())
    }

    func keeping(_ indices: [Int]) -> GANImageSet {
        let plane = channels * side * side
        var kept: [UInt8] = []
        kept.reserveCapacity(indices.count * plane)
        for i in indices { kept += pixels[i * plane..<(i + 1) * plane] }
        var result = GANImageSet(channels: channels, side: side, pixels: kept, labels: indices.map { labels[$0] },
                                 classNames: classNames)
        result.notes = notes
        return result
    }

    /// A batch [indices.count, channels, side, side] in [−1, 1], torchvision's float32 order
    /// ((v / 255 − 0.5) / 0.5, as `Image.chwScalars`).
    public func batch(_ indices: [Int]) -> Tensor {
        let plane = channels * side * side
        let table = (0..<256).map { (Float($0) / 255 - 0.5) / 0.5 }
        let out = Tensor(uninitializedShape: [indices.count, channels, side, side])
        for (row, index) in indices.enumerated() {
            for j in 0..<plane { out.pointer[row * plane + j] = table[Int(pixels[index * plane + j])] }
        }
        return out
    }
}
