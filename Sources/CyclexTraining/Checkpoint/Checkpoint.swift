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

    /// Writes atomically (temporary file, fsync, rename).
    public static func save(_ model: any ModelRecipe, progress: TrainingProgress?, to url: URL) throws {
        var writer = CheckpointFormat.writer(for: model.configuration)
        if let progress {
            writer.metadata[progressKey] = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
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
                let stacked = withoutGradient { Tensor.concatenate(pool.images, alongAxis: 0) }
                precondition(stacked.shape.dropFirst() == first.shape.dropFirst())
                writer.add("pool.\(name).images", stacked)
            }
            writer.add("pool.\(name).rng", int64s: pool.generator.state.map { Int64(bitPattern: $0) }, shape: [4])
        }
        writer.add("rng.model", int64s: model.generator.state.map { Int64(bitPattern: $0) }, shape: [4])
        try writer.write(to: url)
    }

    /// Reads a checkpoint: the model with all its training state, and the progress when saved.
    public static func load(_ url: URL) throws -> (model: any ModelRecipe, progress: TrainingProgress?) {
        let file = try CheckpointFormat.open(url)
        let model = makeModel(try CheckpointFormat.configuration(of: file), seed: 0)
        try CheckpointFormat.load(model.networks, from: file)
        for (name, optimizer) in model.optimizers where file.contains("optimizer.\(name).step") {
            for i in optimizer.parameters.indices {
                optimizer.firstMoments[i].assign(try file.tensor("optimizer.\(name).exp_avg.\(i)"))
                optimizer.secondMoments[i].assign(try file.tensor("optimizer.\(name).exp_avg_sq.\(i)"))
            }
            optimizer.restoreSteps(try file.int64s("optimizer.\(name).step").map(Int.init))
        }
        for (name, pool) in model.pools {
            if file.contains("pool.\(name).images") {
                let stacked = try file.tensor("pool.\(name).images")
                let per = stacked.count / stacked.shape[0]
                pool.restore(images: (0..<stacked.shape[0]).map { i in
                    let t = Tensor(uninitializedShape: [1] + stacked.shape.dropFirst())
                    t.pointer.update(from: stacked.pointer + i * per, count: per)
                    return t
                })
            }
            if file.contains("pool.\(name).rng") {
                pool.generator.state = try file.int64s("pool.\(name).rng").map { UInt64(bitPattern: $0) }
            }
        }
        if file.contains("rng.model") {
            model.generator.state = try file.int64s("rng.model").map { UInt64(bitPattern: $0) }
        }
        let progress = try file.metadata[progressKey].map {
            try JSONDecoder().decode(TrainingProgress.self, from: Data($0.utf8))
        }
        return (model, progress)
    }

    /// Whether `file` holds a training state (a generator-only checkpoint from `cyclex import`
    /// does not): the saved progress or the model's random stream.
    public static func holdsTrainingState(_ file: SafeTensorsFile) -> Bool {
        file.metadata[progressKey] != nil || file.contains("rng.model")
    }
}
