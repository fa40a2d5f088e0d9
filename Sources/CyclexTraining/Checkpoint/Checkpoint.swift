import CyclexEngine
import CyclexInference
import CyclexNN
import Foundation

/// Where a training run stands; saved in every checkpoint so a resumed run continues exactly.
public struct TrainingProgress: Codable, Equatable, Sendable {
    /// The epoch being trained (1-based); `epoch > totalEpochs` once the run is complete.
    public var epoch: Int
    /// Plan items of `epoch` already consumed.
    public var itemsConsumed: Int
    /// Optimisation steps done in the whole run.
    public var globalStep: Int
    /// State of the data-plan stream at the start of `epoch` (rebuilds the same epoch plan).
    public var planGeneratorState: [UInt64]
    public var totalEpochs: Int
    public var decayEpochs: Int
    /// Data-parallel runs only (nil in one process, and then not written): the number of replicas
    /// (MPI ranks) the run was trained with; a resume must use the same (`docs/distributed.md`).
    public var replicas: Int?
    /// Data-parallel runs only: plan items of `epoch` each replica's loader has consumed, by rank
    /// (`itemsConsumed` is their sum).
    public var replicaItemsConsumed: [Int]?

    public init(epoch: Int = 1, itemsConsumed: Int = 0, globalStep: Int = 0, planGeneratorState: [UInt64],
                totalEpochs: Int, decayEpochs: Int) {
        self.epoch = epoch; self.itemsConsumed = itemsConsumed; self.globalStep = globalStep
        self.planGeneratorState = planGeneratorState; self.totalEpochs = totalEpochs; self.decayEpochs = decayEpochs
    }
}

/// One safetensors file with both generators, all discriminators, optimiser moments and step
/// counts, image pools, random-stream states and the training progress; the model
/// configuration is JSON in the header metadata. Network tensors are stored under
/// `<network>.<PyTorch name>` (e.g. `G_A.model.1.weight`) so PyTorch users can load them.
/// The header and network layout are `CheckpointFormat`'s, so `GeneratorCheckpoint` (what
/// `translate` uses) reads the generators of these files without building the rest.
public enum Checkpoint {
    static let progressKey = "cyclex.training"

    /// Writes atomically (temporary file, fsync, rename). Identical states give identical bytes
    /// (sorted JSON keys, tensors in a fixed order).
    public static func save(_ model: any ModelRecipe, progress: TrainingProgress?, to url: URL) throws {
        try AtomicFile.write(try encoded(model, progress: progress), to: url)
    }

    /// The bytes `save` writes (also what rank 0 of a data-parallel run broadcasts to the others).
    public static func encoded(_ model: any ModelRecipe, progress: TrainingProgress?) throws -> Data {
        var writer = CheckpointFormat.writer(for: model.configuration)
        if let progress {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            writer.metadata[progressKey] = String(decoding: try encoder.encode(progress), as: UTF8.self)
        }
        CheckpointFormat.add(model.networks, to: &writer)
        for (name, optimizer) in model.optimizers {
            for (i, (m, v)) in zip(optimizer.firstMoments, optimizer.secondMoments).enumerated() {
                writer.add("optimizer.\(name).exp_avg.\(i)", m)
                writer.add("optimizer.\(name).exp_avg_sq.\(i)", v)
            }
            writer.add("optimizer.\(name).step", int64s: optimizer.steps.map(Int64.init), shape: [optimizer.steps.count])
        }
        for (name, pool) in model.pools {
            if let first = pool.images.first {
                if pool.images.allSatisfy({ $0.shape == first.shape }) {
                    writer.add("pool.\(name).images", withoutGradient { Tensor.concatenate(pool.images, alongAxis: 0) })
                } else {
                    // `--preprocess none` keeps each image's size: one tensor per stored image.
                    for (i, image) in pool.images.enumerated() { writer.add("pool.\(name).image.\(i)", image) }
                }
            }
            writer.add("pool.\(name).rng", int64s: pool.generator.state.map { Int64(bitPattern: $0) }, shape: [4])
        }
        writer.add("rng.model", int64s: model.generator.state.map { Int64(bitPattern: $0) }, shape: [4])
        return try writer.encoded()
    }

    /// Reads a checkpoint: the model with all its training state, and the progress when saved.
    ///
    /// Everything is validated before it is used: the configuration against its bounds, the
    /// file against the weights the configuration needs (before building anything), every network
    /// tensor against the shape its layer has, every optimiser moment against its parameter,
    /// step counts, pool images (count, channels), random-stream states and the progress record.
    /// Errors name the file and the tensor. A model is returned only when all of it fits.
    public static func load(_ url: URL) throws -> (model: any ModelRecipe, progress: TrainingProgress?) {
        try load(CheckpointFormat.open(url))
    }

    /// `load` of a checkpoint already opened (or received as bytes, `SafeTensorsFile(data:path:)`).
    public static func load(_ file: SafeTensorsFile) throws -> (model: any ModelRecipe, progress: TrainingProgress?) {
        let configuration = try CheckpointFormat.configuration(of: file)
        try CheckpointFormat.requireWeights(configuration.minimumGeneratorWeights,
                                            under: GeneratorCheckpoint.generatorPrefixes(configuration.kind), in: file)
        let training = holdsTrainingState(file)
        if training {
            try CheckpointFormat.requireWeights(configuration.minimumDiscriminatorWeights,
                                                under: discriminatorPrefixes(configuration.kind), in: file)
        }
        let progress = try readProgress(file)
        let model = makeModel(configuration, seed: 0)
        try CheckpointFormat.load(model.networks, from: file)
        guard training else { return (model, progress) }

        func fail(_ reason: String) -> CheckpointError { .incompatible(path: file.path, reason: reason) }
        func tensor(_ key: String, shape: [Int]) throws -> Tensor {
            guard let entry = file.entries[key] else { throw fail("tensor '\(key)' is missing") }
            guard entry.shape == shape else { throw fail("tensor '\(key)' has shape \(entry.shape), expected \(shape)") }
            return try file.tensor(key)
        }
        func stream(_ key: String) throws -> [UInt64] {
            guard let entry = file.entries[key] else { throw fail("tensor '\(key)' is missing") }
            guard entry.shape == [4], entry.dtype == "I64" else {
                throw fail("tensor '\(key)' is \(entry.dtype) \(entry.shape), expected I64 [4] (a random-stream state)")
            }
            let state = try file.int64s(key).map { UInt64(bitPattern: $0) }
            guard state.contains(where: { $0 != 0 }) else { throw fail("tensor '\(key)': an all-zero random-stream state") }
            return state
        }

        // Stage everything, then assign.
        var moments: [(target: Tensor, value: Tensor)] = []
        var steps: [(optimizer: Adam, values: [Int])] = []
        for (name, optimizer) in model.optimizers {
            for (i, parameter) in optimizer.parameters.enumerated() {
                let m = try tensor("optimizer.\(name).exp_avg.\(i)", shape: parameter.shape)
                let v = try tensor("optimizer.\(name).exp_avg_sq.\(i)", shape: parameter.shape)
                guard m.scalars.allSatisfy(\.isFinite), v.scalars.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                    throw fail("optimizer.\(name) moments of parameter \(i) hold non-finite or negative values")
                }
                moments += [(optimizer.firstMoments[i], m), (optimizer.secondMoments[i], v)]
            }
            let key = "optimizer.\(name).step"
            guard let entry = file.entries[key] else { throw fail("tensor '\(key)' is missing") }
            guard entry.dtype == "I64", entry.shape == [optimizer.parameters.count] else {
                throw fail("tensor '\(key)' is \(entry.dtype) \(entry.shape), expected I64 [\(optimizer.parameters.count)]")
            }
            let counts = try file.int64s(key)
            guard counts.allSatisfy({ $0 >= 0 && $0 <= 1 << 50 }) else { throw fail("tensor '\(key)' holds a step count out of range") }
            steps.append((optimizer, counts.map(Int.init)))
        }
        var pools: [(pool: ImagePool, images: [Tensor], state: [UInt64])] = []
        for (name, pool) in model.pools {
            pools.append((pool, try poolImages(name, capacity: pool.capacity, channels: configuration.channels, file: file),
                          try stream("pool.\(name).rng")))
        }
        let modelStream = try stream("rng.model")

        for (target, value) in moments { target.assign(value) }
        for (optimizer, values) in steps { optimizer.restoreSteps(values) }
        for (pool, images, state) in pools {
            pool.restore(images: images)
            pool.generator.state = state
        }
        model.generator.state = modelStream
        return (model, progress)
    }

    /// The discriminator prefixes of a training checkpoint of `kind`.
    static func discriminatorPrefixes(_ kind: ModelConfiguration.Kind) -> [String] {
        kind == .cycleGAN ? ["D_A", "D_B"] : ["D_A", "Dm_A", "D_B", "Dm_B"]
    }

    /// The images of pool `name`: one `[k, C, H, W]` tensor `pool.<name>.images`, or (images of
    /// different sizes) `pool.<name>.image.<i>` of `[1, C, H, W]` each; none when the pool is empty.
    static func poolImages(_ name: String, capacity: Int, channels: Int, file: SafeTensorsFile) throws -> [Tensor] {
        func fail(_ reason: String) -> CheckpointError { .incompatible(path: file.path, reason: reason) }
        func check(_ key: String, _ shape: [Int], count: ClosedRange<Int>) throws {
            guard shape.count == 4, count.contains(shape[0]), shape[1] == channels, shape[2] >= 1, shape[3] >= 1 else {
                throw fail("tensor '\(key)' has shape \(shape), expected [k, \(channels), H, W] with k in \(count)")
            }
        }
        if let entry = file.entries["pool.\(name).images"] {
            try check("pool.\(name).images", entry.shape, count: 1...max(1, capacity))
            let stacked = try file.tensor("pool.\(name).images")
            let per = stacked.count / stacked.shape[0]
            return (0..<stacked.shape[0]).map { i in
                let t = Tensor(uninitializedShape: [1] + stacked.shape.dropFirst())
                t.pointer.update(from: stacked.pointer + i * per, count: per)
                return t
            }
        }
        var images: [Tensor] = []
        while let entry = file.entries["pool.\(name).image.\(images.count)"] {
            let key = "pool.\(name).image.\(images.count)"
            guard images.count < capacity else { throw fail("pool \(name) holds more than its \(capacity) images") }
            try check(key, entry.shape, count: 1...1)
            images.append(try file.tensor(key))
        }
        return images
    }

    /// The progress record of the header, checked for consistency; nil when absent.
    static func readProgress(_ file: SafeTensorsFile) throws -> TrainingProgress? {
        guard let json = file.metadata[progressKey] else { return nil }
        func fail(_ reason: String) -> CheckpointError {
            .incompatible(path: file.path, reason: "progress record '\(progressKey)': \(reason)")
        }
        let p: TrainingProgress
        do { p = try JSONDecoder().decode(TrainingProgress.self, from: Data(json.utf8)) } catch {
            throw fail(CheckpointFormat.describe(error))
        }
        guard (1...1_000_000).contains(p.totalEpochs) else { throw fail("totalEpochs \(p.totalEpochs) out of range") }
        guard (0...p.totalEpochs).contains(p.decayEpochs) else { throw fail("decayEpochs \(p.decayEpochs) out of range") }
        guard p.epoch >= 1, p.itemsConsumed >= 0, p.globalStep >= 0 else {
            throw fail("negative epoch, item or step count")
        }
        guard p.planGeneratorState.count == 4, p.planGeneratorState.contains(where: { $0 != 0 }) else {
            throw fail("planGeneratorState must be 4 words, not all zero")
        }
        if let replicas = p.replicas {
            guard (2...1_000_000).contains(replicas) else { throw fail("replicas \(replicas) out of range") }
            guard let consumed = p.replicaItemsConsumed, consumed.count == replicas, consumed.allSatisfy({ $0 >= 0 }) else {
                throw fail("replicaItemsConsumed must hold one non-negative count per replica (\(replicas))")
            }
        } else if p.replicaItemsConsumed != nil {
            throw fail("replicaItemsConsumed without replicas")
        }
        return p
    }

    /// Whether `file` holds a training state (a generator-only checkpoint from `cyclex import`
    /// does not): the saved progress or the model's random stream.
    public static func holdsTrainingState(_ file: SafeTensorsFile) -> Bool {
        file.metadata[progressKey] != nil || file.contains("rng.model")
    }
}
