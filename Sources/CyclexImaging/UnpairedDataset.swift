import CyclexEngine
import Foundation

/// Two unpaired image domains, A and B: either the CycleGAN layout (`<root>/trainA`, `trainB`,
/// `testA`, `testB`) or any two folders. Listing is recursive and sorted (see `ImageFolder`).
public struct UnpairedDataset: Sendable, Equatable {
    /// How an epoch pairs the two domains.
    public enum EpochPolicy: String, Sendable, CaseIterable {
        /// junyanz's `unaligned_dataset.py` (docs/training.md#epoch-policies): max(|A|, |B|) steps
        /// over a shuffled index permutation; step index i uses A[i mod |A|] and a uniformly random B
        /// (B[i mod |B|] when `serialB`).
        case cycleGAN
        /// xAI-CycleGAN (docs/training.md#epoch-policies): two independently shuffled loaders zipped,
        /// min(|A|, |B|) steps.
        case zipShuffled
    }

    public let domainA: ImageFolder
    public let domainB: ImageFolder

    /// `<root>/<phase>A` and `<root>/<phase>B` (phase "train" or "test").
    /// - Throws: `ImageError` naming a missing or empty folder.
    public init(root: URL, phase: String = "train") throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw ImageError.missingFolder(path: root.path)
        }
        guard isDirectory.boolValue else { throw ImageError.notAFolder(path: root.path) }
        try self.init(folderA: root.appendingPathComponent(phase + "A"), folderB: root.appendingPathComponent(phase + "B"))
    }

    /// Two arbitrary folders.
    public init(folderA: URL, folderB: URL) throws {
        domainA = try ImageFolder(folderA)
        domainB = try ImageFolder(folderB)
    }

    /// Messages about files that will be ignored (unsupported image formats), one per domain.
    public var warnings: [String] {
        [domainA, domainB].compactMap { folder in
            guard !folder.unsupportedFiles.isEmpty else { return nil }
            let examples = folder.unsupportedFiles.prefix(3).map { folder.relativePath(of: $0) }.joined(separator: ", ")
            return "\(folder.root.path): ignoring \(folder.unsupportedFiles.count) image(s) in formats cyclex "
                + "cannot read (\(examples)\(folder.unsupportedFiles.count > 3 ? ", …" : "")); convert them to PNG or JPEG"
        }
    }

    /// Steps in one epoch under `policy`.
    public func stepsPerEpoch(policy: EpochPolicy = .cycleGAN) -> Int {
        switch policy {
        case .cycleGAN: max(domainA.count, domainB.count)
        case .zipShuffled: min(domainA.count, domainB.count)
        }
    }

    /// The pairs of one epoch, in order, each with a seed for its crops and flips, so the plan (and
    /// the generator state before it) fully determines the epoch whatever the number of decoding
    /// threads. Draw order: the permutation(s) first, then per step the B index (cycleGAN, unless
    /// `serialB`) and the item seed.
    public func epochPlan(
        policy: EpochPolicy = .cycleGAN, shuffle: Bool = true, serialB: Bool = false,
        using generator: inout RandomGenerator
    ) -> [UnpairedItem] {
        let (countA, countB) = (domainA.count, domainB.count)
        switch policy {
        case .cycleGAN:
            let steps = max(countA, countB)
            let order = shuffle ? Self.permutation(steps, using: &generator) : Array(0..<steps)
            return order.map { index in
                let b = serialB ? index % countB : generator.nextInt(below: countB)
                return UnpairedItem(indexA: index % countA, indexB: b, seed: generator.next())
            }
        case .zipShuffled:
            let steps = min(countA, countB)
            let orderA = shuffle ? Self.permutation(countA, using: &generator) : Array(0..<countA)
            let orderB = shuffle ? Self.permutation(countB, using: &generator) : Array(0..<countB)
            return (0..<steps).map { i in UnpairedItem(indexA: orderA[i], indexB: orderB[i], seed: generator.next()) }
        }
    }

    /// Fisher–Yates with `nextInt(below:)`, written out so the order never depends on the standard
    /// library's shuffle algorithm.
    public static func permutation(_ count: Int, using generator: inout RandomGenerator) -> [Int] {
        var order = Array(0..<count)
        if count < 2 { return order }
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, generator.nextInt(below: i + 1))
        }
        return order
    }
}

/// One planned step: which A and B files, and the seed of its random crops and flips.
public struct UnpairedItem: Sendable, Equatable {
    public let indexA: Int
    public let indexB: Int
    public let seed: UInt64

    public init(indexA: Int, indexB: Int, seed: UInt64) {
        self.indexA = indexA
        self.indexB = indexB
        self.seed = seed
    }
}

/// Files that failed to load, each with its first error, shared across epochs so every bad file is
/// reported once while every skipped step is counted.
public final class SkippedFiles: @unchecked Sendable {
    private let lock = NSLock()
    private var reasons: [String: String] = [:]
    private var order: [String] = []
    private var skipped = 0

    public init() {}

    /// Records a failed step; returns true when `error` names a file not seen before.
    @discardableResult
    public func record(_ error: ImageError) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        skipped += 1
        let key = error.path ?? error.localizedDescription
        guard reasons[key] == nil else { return false }
        reasons[key] = error.localizedDescription
        order.append(key)
        return true
    }

    /// Steps skipped so far.
    public var skippedSteps: Int { lock.withLock { skipped } }

    /// The bad files, in the order they were found, with their error messages.
    public var files: [(path: String, message: String)] {
        lock.withLock { order.map { ($0, reasons[$0]!) } }
    }

    /// "skipped 3 steps because of 2 unreadable files" (empty when nothing was skipped).
    public var summary: String {
        let (steps, fileCount) = lock.withLock { (skipped, order.count) }
        guard steps > 0 else { return "" }
        return "skipped \(steps) step(s) because of \(fileCount) unreadable file(s)"
    }
}

/// A preprocessed A/B pair, CHW floats in [−1, 1] (`[C, H, W]`), ready to be batched.
public struct UnpairedSample: Sendable {
    public let a: [Float]
    public let b: [Float]
    public let sizeA: ImageSize
    public let sizeB: ImageSize
    public let urlA: URL
    public let urlB: URL
}

/// A batch of `[N, C, H, W]` tensors in [−1, 1] and the files they came from.
public struct UnpairedBatch {
    public let realA: Tensor
    public let realB: Tensor
    public let urlsA: [URL]
    public let urlsB: [URL]
}

/// Decodes and preprocesses an epoch plan on background threads (a bounded prefetch queue) and
/// hands out batches in plan order. Steps whose A or B file cannot be read are skipped with one
/// warning per bad file (naming it and the problem) and counted in `skippedFiles`.
public final class UnpairedLoader {
    public let batchSize: Int
    public let skippedFiles: SkippedFiles
    private let queue: PrefetchQueue<Result<UnpairedSample, ImageError>>
    private let warn: @Sendable (String) -> Void
    private var pending: UnpairedSample?
    /// Plan items consumed so far (delivered or skipped); resume an epoch by dropping this many.
    public private(set) var itemsConsumed = 0

    /// - Parameters:
    ///   - preprocessingB: options for domain B when they differ (e.g. other channel count).
    ///   - prefetch: finished samples that may wait ahead of the training loop.
    ///   - warn: receives "skipping <file>: <problem>" once per bad file (stderr by default).
    public init(
        dataset: UnpairedDataset, plan: [UnpairedItem], preprocessing: Preprocessing,
        preprocessingB: Preprocessing? = nil, batchSize: Int = 1, prefetch: Int = 8, workers: Int = 1,
        skippedFiles: SkippedFiles = SkippedFiles(),
        warn: @escaping @Sendable (String) -> Void = { message in
            FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
        }
    ) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        self.batchSize = batchSize
        self.skippedFiles = skippedFiles
        self.warn = warn
        let filesA = dataset.domainA.files, filesB = dataset.domainB.files
        let optionsA = preprocessing, optionsB = preprocessingB ?? preprocessing
        queue = PrefetchQueue(count: plan.count, capacity: max(prefetch, batchSize), workers: workers) { index in
            let item = plan[index]
            var generator = RandomGenerator(seed: item.seed)
            let urlA = filesA[item.indexA], urlB = filesB[item.indexB]
            do {
                let a = try optionsA.load(urlA, using: &generator)
                let b = try optionsB.load(urlB, using: &generator)
                return .success(UnpairedSample(a: a.scalars, b: b.scalars, sizeA: a.size, sizeB: b.size,
                                               urlA: urlA, urlB: urlB))
            } catch let error as ImageError {
                return .failure(error)
            } catch {
                return .failure(.corrupt(path: urlA.path, reason: error.localizedDescription))
            }
        }
    }

    /// Skips the first `count` items of the plan (to resume mid-epoch from `itemsConsumed`).
    public func skip(_ count: Int) {
        for _ in 0..<count { _ = nextSample() }
    }

    /// The next batch, nil at the end of the plan. The last batch may be smaller; a batch also ends
    /// early when the image size changes (possible with `.none` or `.crop` preprocessing).
    public func next() -> UnpairedBatch? {
        var samples: [UnpairedSample] = []
        while samples.count < batchSize {
            guard let sample = pending ?? nextSample() else { break }
            pending = nil
            if let first = samples.first, first.sizeA != sample.sizeA || first.sizeB != sample.sizeB {
                pending = sample
                break
            }
            samples.append(sample)
        }
        guard let first = samples.first else { return nil }
        func stack(_ parts: [[Float]], channels: Int, size: ImageSize) -> Tensor {
            var scalars: [Float] = []
            scalars.reserveCapacity(parts.count * parts[0].count)
            for part in parts { scalars.append(contentsOf: part) }
            return Tensor(shape: [parts.count, channels, size.height, size.width], scalars: scalars)
        }
        let channelsA = first.a.count / (first.sizeA.width * first.sizeA.height)
        let channelsB = first.b.count / (first.sizeB.width * first.sizeB.height)
        return UnpairedBatch(
            realA: stack(samples.map(\.a), channels: channelsA, size: first.sizeA),
            realB: stack(samples.map(\.b), channels: channelsB, size: first.sizeB),
            urlsA: samples.map(\.urlA), urlsB: samples.map(\.urlB))
    }

    /// The next good sample, skipping (and reporting) failures.
    private func nextSample() -> UnpairedSample? {
        while let result = queue.next() {
            itemsConsumed += 1
            switch result {
            case let .success(sample): return sample
            case let .failure(error):
                if skippedFiles.record(error) { warn("skipping \(error.localizedDescription)") }
            }
        }
        return nil
    }
}
