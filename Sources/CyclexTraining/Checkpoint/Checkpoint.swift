import CyclexEngine
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

/// Problems with checkpoint files, naming the file.
public enum CheckpointError: LocalizedError {
    case notFound(path: String)
    case notACyclexCheckpoint(path: String, reason: String)
    case incompatible(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .notFound(path): return "\(path): no such checkpoint"
        case let .notACyclexCheckpoint(path, reason): return "\(path): not a cyclex checkpoint (\(reason))"
        case let .incompatible(path, reason): return "\(path): \(reason)"
        }
    }
}

/// One safetensors file with both generators, all discriminators, optimiser moments and step
/// counts, image pools, random-stream states and the training progress; the model
/// configuration is JSON in the header metadata. Network tensors are stored under
/// `<network>.<PyTorch name>` (e.g. `G_A.model.1.weight`) so PyTorch users can load them.
public enum Checkpoint {
    static let formatKey = "cyclex.format", modelKey = "cyclex.model", progressKey = "cyclex.training"

    /// Writes atomically (temporary file, fsync, rename).
    public static func save(_ model: any CycleTranslationModel, progress: TrainingProgress?, to url: URL) throws {
        var writer = SafeTensorsWriter()
        writer.metadata[formatKey] = "1"
        writer.metadata[modelKey] = model.configuration.jsonString()
        if let progress {
            writer.metadata[progressKey] = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
        }
        for (prefix, module) in model.networks {
            for (name, tensor) in module.namedState { writer.add("\(prefix).\(name)", tensor) }
        }
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
    public static func load(_ url: URL) throws -> (model: any CycleTranslationModel, progress: TrainingProgress?) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw CheckpointError.notFound(path: url.path) }
        let file = try SafeTensorsFile(contentsOf: url)
        let configuration = try self.configuration(of: file)
        let model = makeModel(configuration, seed: 0)
        for (prefix, module) in model.networks {
            do {
                try module.load { name in
                    file.contains("\(prefix).\(name)") ? try file.tensor("\(prefix).\(name)") : nil
                }
            } catch let error as ModuleError {
                throw CheckpointError.incompatible(path: url.path, reason: "network \(prefix): \(error.localizedDescription)")
            }
        }
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

    /// The model configuration stored in `file`.
    public static func configuration(of file: SafeTensorsFile) throws -> ModelConfiguration {
        guard let json = file.metadata[modelKey] else {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "its header has no '\(modelKey)' entry")
        }
        do { return try JSONDecoder().decode(ModelConfiguration.self, from: Data(json.utf8)) } catch {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "unreadable model configuration: \(error)")
        }
    }
}
