import CyclexEngine
import CyclexImaging
import Dispatch
import Foundation
import Synchronization

/// One of `count` disjoint slices of a folder (`--shard K/N`, K from 1 to N).
///
/// A file belongs to the shard `1 + FNV-1a(relative path) mod N`: the choice depends only on
/// the file's path inside the input folder, so machines that list the folder at different
/// moments (or mount it at different places) still split it without gaps or overlaps.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    /// 1-based.
    public let index: Int
    public let count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, (1...count).contains(index) else { return nil }
        (self.index, self.count) = (index, count)
    }

    /// Parses "K/N" with 1 ≤ K ≤ N.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The 1-based shard a relative path belongs to.
    public static func shard(of relativePath: String, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in relativePath.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(count)) + 1
    }

    public func contains(_ relativePath: String) -> Bool { Self.shard(of: relativePath, count: count) == index }
}

/// Output file format for folders: keep each input's, or force one.
public enum OutputFormatChoice: String, Sendable, CaseIterable {
    case png, jpg
}

/// Settings shared by file and folder translation.
public struct TranslationOutputOptions: Sendable {
    /// Resize every input to this size first (the output then has this size); nil keeps sizes.
    public var size: ImageSize?
    /// Folder mode: write every output in this format (extension changed accordingly).
    public var format: OutputFormatChoice?
    public var jpegQuality = 95
    /// Write input and translation next to each other (input left).
    public var sideBySide = false
    /// Folder mode: replace existing outputs instead of skipping them.
    public var overwrite = false
    public var shard: Shard?
    /// The scale the generator sees each image at (TranslationScale.swift); `training` needs `trainingSize`.
    public var scale: TranslationScale = .native
    /// The checkpoint's training size (its `imageSize`), the shorter side at `scale == .training`.
    public var trainingSize: Int?

    public init() {}

    func encoding(for url: URL) -> ImageFileFormat? {
        switch ImageFileFormat(pathExtension: url.pathExtension) {
        case .png?: return .png()
        case .jpeg?: return .jpeg(quality: jpegQuality)
        case nil: return nil
        }
    }
}

/// What happened to one batch, for the final line and the exit code.
public struct BatchSummary: Sendable {
    /// Files in this shard of the folder.
    public var total = 0
    public var done = 0
    public var skipped = 0
    /// Temporary files of earlier, killed runs removed from the output folders before writing.
    public var removedTemporaries = 0
    public var failures: [(path: String, message: String)] = []
    /// Wall time of the decode → translate → encode pipeline.
    public var seconds = 0.0
    /// True when `shouldStop` ended the run early (the remaining files are not counted).
    public var interrupted = false

    public var failed: Int { failures.count }
    /// Translated images per second of wall time (skipped files excluded).
    public var imagesPerSecond: Double { seconds > 0 ? Double(done) / seconds : 0 }
}

/// Translating single files and whole folders: output naming, skip/overwrite, shards, and a
/// pipeline that decodes ahead on one thread, runs the network on the caller's thread, and
/// encodes and writes on another, so a 2-core machine keeps both cores busy.
public enum BatchTranslation {
    /// One input and where its output goes.
    public struct Item: Sendable, Equatable {
        public let input: URL
        public let output: URL
        /// Path inside the input folder.
        public let relativePath: String
    }

    /// The plan for a folder: items in this shard, in path order, with outputs mirrored under
    /// `output` (sub-folders kept; extension changed when `options.format` is set). Files inside
    /// `output` (when it lies within `input`) are left out.
    public static func plan(input: URL, output: URL, options: TranslationOutputOptions) throws -> [Item] {
        let folder = try ImageFolder(input)
        let outputPrefix = output.standardizedFileURL.path + "/"
        var items: [Item] = []
        for file in folder.files where !file.standardizedFileURL.path.hasPrefix(outputPrefix) {
            let relative = folder.relativePath(of: file)
            if let shard = options.shard, !shard.contains(relative) { continue }
            var target = output.appendingPathComponent(relative)
            if let format = options.format {
                target = target.deletingPathExtension().appendingPathExtension(format.rawValue)
            }
            items.append(Item(input: file, output: target, relativePath: relative))
        }
        return items
    }

    /// Reads, resizes when asked, translates and writes one file.
    public static func translateFile(input: URL, output: URL, translator: Translator,
                                     options: TranslationOutputOptions) throws {
        guard let format = options.encoding(for: output) else {
            throw ImageError.cannotWrite(path: output.path,
                                         reason: "unknown image extension '.\(output.pathExtension)' (use .png, .jpg or .jpeg)")
        }
        let image = try prepare(Image(contentsOf: input), options: options)
        let result = options.translate(image, with: translator, outputBitDepth: depth(for: format, input: image))
        try write(compose(image, result, options: options), to: output, format: format)
    }

    /// Translates `items`, skipping existing outputs unless `options.overwrite`; one unreadable
    /// or unwritable file is recorded and the batch goes on. `onProgress` and `onFailure` are
    /// called on the caller's thread; every output is written when this returns.
    public static func run(
        _ items: [Item], translator: Translator, options: TranslationOutputOptions,
        shouldStop: () -> Bool = { false },
        onProgress: (BatchSummary) -> Void = { _ in },
        onFailure: (String, String) -> Void = { _, _ in }
    ) -> BatchSummary {
        var summary = BatchSummary()
        summary.total = items.count
        // Outputs that two inputs would share (a.png and a.jpg with --format png).
        var claimed: [String: String] = [:]
        var todo: [Item] = []
        for item in items {
            let key = item.output.standardizedFileURL.path
            if let first = claimed[key] {
                let message = "output \(item.output.path) is also the output of \(first); rename one of them"
                summary.failures.append((item.input.path, message))
                onFailure(item.input.path, message)
                continue
            }
            claimed[key] = item.relativePath
            if !options.overwrite && FileManager.default.fileExists(atPath: item.output.path) {
                summary.skipped += 1
            } else {
                todo.append(item)
            }
        }
        // A killed run leaves `.<name>.tmp-<pid>` files beside the outputs it was writing; sweep
        // the folders this run writes into (files of live processes, e.g. other shards, stay).
        let outputFolders = Set(todo.map { $0.output.deletingLastPathComponent().standardizedFileURL })
        for folder in outputFolders {
            summary.removedTemporaries += AtomicFile.removeAbandonedTemporaries(in: folder).count
        }
        onProgress(summary)
        guard !todo.isEmpty else { return summary }

        let start = Date()
        let inputs = todo.map(\.input)
        let decoded = PrefetchQueue<Decoded>(count: inputs.count, capacity: 4, workers: 1) { i in
            do {
                return .image(try prepare(Image(contentsOf: inputs[i]), options: options))
            } catch {
                return .failure(error.localizedDescription)
            }
        }
        let writer = Writer()
        for item in todo {
            if shouldStop() { summary.interrupted = true; break }
            guard let next = decoded.next() else { break }
            writer.reportFailures(to: &summary, onFailure)
            onProgress(writer.merged(into: summary))
            switch next {
            case let .failure(message):
                summary.failures.append((item.input.path, message))
                onFailure(item.input.path, message)
            case let .image(image):
                guard let format = options.encoding(for: item.output) else {
                    let message = "unknown image extension '.\(item.output.pathExtension)'"
                    summary.failures.append((item.input.path, message))
                    onFailure(item.input.path, message)
                    continue
                }
                let result = options.translate(image, with: translator, outputBitDepth: depth(for: format, input: image))
                writer.submit(item) {
                    try write(compose(image, result, options: options), to: item.output, format: format)
                }
            }
        }
        decoded.cancel()
        writer.finish()
        writer.reportFailures(to: &summary, onFailure)
        summary = writer.merged(into: summary)
        summary.seconds = Date().timeIntervalSince(start)
        onProgress(summary)
        return summary
    }

    // MARK: - Steps

    enum Decoded: Sendable {
        case image(Image)
        case failure(String)
    }

    static func prepare(_ image: Image, options: TranslationOutputOptions) -> Image {
        guard let size = options.size else { return image }
        return image.resized(to: size, filter: .bicubic)
    }

    /// 16-bit output only for 16-bit inputs written as PNG.
    static func depth(for format: ImageFileFormat, input: Image) -> Int {
        if case .png = format { return input.bitDepth }
        return 8
    }

    /// The output image, or input and output side by side (input converted to the output's
    /// channels and bit depth, alpha composited on white).
    static func compose(_ input: Image, _ output: Image, options: TranslationOutputOptions) -> Image {
        guard options.sideBySide else { return output }
        let left = input.converted(toChannels: output.channels).converted(toBitDepth: output.bitDepth)
        let (w, h, c) = (left.width + output.width, output.height, output.channels)
        func join<T>(_ a: [T], _ b: [T], zero: T) -> [T] {
            var out = [T](repeating: zero, count: w * h * c)
            for y in 0..<h {
                let ra = y * left.width * c, rb = y * output.width * c, ro = y * w * c
                for i in 0..<(left.width * c) { out[ro + i] = a[ra + i] }
                for i in 0..<(output.width * c) { out[ro + left.width * c + i] = b[rb + i] }
            }
            return out
        }
        switch (left.samples, output.samples) {
        case let (.uint8(a), .uint8(b)): return Image(width: w, height: h, channels: c, samples: join(a, b, zero: UInt8(0)))
        case let (.uint16(a), .uint16(b)): return Image(width: w, height: h, channels: c, samples: join(a, b, zero: UInt16(0)))
        default: preconditionFailure("side-by-side halves have different bit depths")
        }
    }

    /// Writes atomically (`Image.write(atomicallyTo:format:)`), so an interrupted run never
    /// leaves a half-written output that a later run would skip.
    static func write(_ image: Image, to url: URL, format: ImageFileFormat) throws {
        try image.write(atomicallyTo: url, format: format)
    }

    /// A serial background queue for encoding and writing, at most `capacity` images in flight.
    final class Writer: Sendable {
        struct State: Sendable {
            var done = 0
            var failures: [(path: String, message: String)] = []
            var reported = 0
        }
        private let queue = DispatchQueue(label: "cyclex.translate.writer")
        private let slots: DispatchSemaphore
        private let group = DispatchGroup()
        private let state = Mutex(State())

        init(capacity: Int = 3) { slots = DispatchSemaphore(value: capacity) }

        func submit(_ item: Item, _ work: @escaping @Sendable () throws -> Void) {
            slots.wait()
            queue.async(group: group) { [self] in
                do {
                    try work()
                    state.withLock { $0.done += 1 }
                } catch {
                    let message = error.localizedDescription
                    state.withLock { $0.failures.append((item.input.path, message)) }
                }
                slots.signal()
            }
        }

        func finish() { group.wait() }

        /// Hands failures not yet reported to `onFailure` and appends them to `summary`.
        func reportFailures(to summary: inout BatchSummary, _ onFailure: (String, String) -> Void) {
            let new = state.withLock { s -> [(path: String, message: String)] in
                let new = Array(s.failures[s.reported...])
                s.reported = s.failures.count
                return new
            }
            for f in new {
                summary.failures.append(f)
                onFailure(f.path, f.message)
            }
        }

        /// `summary` with the writes finished so far counted as done.
        func merged(into summary: BatchSummary) -> BatchSummary {
            var s = summary
            s.done = state.withLock { $0.done }
            return s
        }
    }
}
