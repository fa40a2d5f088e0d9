import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import Foundation

/// Where a single-GAN run stands besides `TrainingProgress`: the random streams and the fixed
/// SHAP background, everything a resumed run needs to continue bit for bit.
public struct SingleGANState {
    /// Noise for the D and G steps.
    public var noise: RandomGenerator
    public var progress: TrainingProgress
}

/// A single GAN's checkpoint: one safetensors file with `G.*` and `D.*` (PyTorch state_dict
/// names of the xAI-GAN networks), both Adam states, the dropout, noise and LIME streams, the
/// SHAP baselines when set, and in the header `cyclex.format`, `cyclex.single-gan` (the
/// `SingleGANConfiguration` JSON), `cyclex.single-gan.options` and `cyclex.training`
/// (progress). Written atomically (temporary file, fsync, rename).
public enum SingleGANCheckpoint {
    public static let configurationKey = "cyclex.single-gan", optionsKey = "cyclex.single-gan.options"
    static let progressKey = "cyclex.training"

    static func networks(_ model: SingleGANModel) -> [(prefix: String, module: any Module)] {
        [("G", model.generator), ("D", model.discriminator)]
    }

    static func optimizers(_ model: SingleGANModel) -> [(String, Adam)] { [("G", model.optimizerG), ("D", model.optimizerD)] }

    public static func save(_ model: SingleGANModel, configuration: SingleGANConfiguration, options: SingleGANOptions,
                            state: SingleGANState, to url: URL) throws {
        var writer = SafeTensorsWriter()
        writer.metadata[CheckpointFormat.formatKey] = CheckpointFormat.formatVersion
        writer.metadata[configurationKey] = configuration.jsonString()
        writer.metadata[optionsKey] = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        writer.metadata[progressKey] = String(decoding: try JSONEncoder().encode(state.progress), as: UTF8.self)
        CheckpointFormat.add(networks(model), to: &writer)
        for (name, optimizer) in optimizers(model) {
            for (i, (m, v)) in zip(optimizer.firstMoments, optimizer.secondMoments).enumerated() {
                writer.add("optimizer.\(name).exp_avg.\(i)", m)
                writer.add("optimizer.\(name).exp_avg_sq.\(i)", v)
            }
            writer.add("optimizer.\(name).step", int64s: optimizer.steps.map(Int64.init), shape: [optimizer.steps.count])
        }
        func addStream(_ name: String, _ g: RandomGenerator) {
            writer.add("rng.\(name)", int64s: g.state.map { Int64(bitPattern: $0) }, shape: [4])
        }
        addStream("noise", state.noise)
        addStream("lime", model.limeGenerator)
        if let dense = model.discriminator as? DenseDiscriminator { addStream("dropout", dense.dropoutGenerator) }
        if let baselines = model.shapBaselines { writer.add("shap.baselines", baselines) }
        try writer.write(to: url)
    }

    /// The configuration stored in a single-GAN checkpoint.
    public static func configuration(of file: SafeTensorsFile) throws -> SingleGANConfiguration {
        guard let json = file.metadata[configurationKey] else {
            throw CheckpointError.notACyclexCheckpoint(
                path: file.path, reason: "its header has no '\(configurationKey)' entry (not written by `cyclex gan train`)")
        }
        do {
            let configuration = try JSONDecoder().decode(SingleGANConfiguration.self, from: Data(json.utf8))
            try validate(configuration, path: file.path)
            return configuration
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "unreadable single-GAN configuration: \(error)")
        }
    }

    /// Bounds on a configuration read from an untrusted file, before anything is allocated.
    static func validate(_ c: SingleGANConfiguration, path: String) throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw CheckpointError.incompatible(path: path, reason: "configuration out of range: \(what)") }
        }
        try require([1, 3].contains(c.channels), "channels \(c.channels)")
        try require((4...256).contains(c.side), "side \(c.side)")
        try require((1...4096).contains(c.noiseSize), "noise size \(c.noiseSize)")
        try require(c.denseGeneratorWidths.count == 3 && c.denseGeneratorWidths.allSatisfy { (1...8192).contains($0) },
                    "generator widths \(c.denseGeneratorWidths)")
        try require(c.denseDiscriminatorWidths.count == 3 && c.denseDiscriminatorWidths.allSatisfy { (1...8192).contains($0) },
                    "discriminator widths \(c.denseDiscriminatorWidths)")
        try require((1...512).contains(c.dcganGeneratorFilters) && (1...512).contains(c.dcganDiscriminatorFilters), "filters")
        try require((1...64).contains(c.limePatchSize) && (2...10_000).contains(c.limeSamples), "lime settings")
        try require(c.problem == nil, c.problem ?? "")
    }

    /// Reads a checkpoint: the model with its training state, the options and the state.
    public static func load(_ url: URL) throws -> (model: SingleGANModel, configuration: SingleGANConfiguration,
                                                  options: SingleGANOptions?, state: SingleGANState?) {
        let file = try CheckpointFormat.open(url)
        let configuration = try configuration(of: file)
        let model = configuration.makeModel(seed: 0)
        try CheckpointFormat.load(networks(model), from: file)
        func incompatible(_ reason: String) -> CheckpointError { .incompatible(path: file.path, reason: reason) }
        func stream(_ name: String) throws -> RandomGenerator? {
            guard file.contains("rng.\(name)") else { return nil }
            let words = try file.int64s("rng.\(name)")
            guard words.count == 4 else { throw incompatible("rng.\(name) has \(words.count) words, expected 4") }
            var g = RandomGenerator(seed: 0)
            g.state = words.map { UInt64(bitPattern: $0) }
            return g
        }
        for (name, optimizer) in optimizers(model) where file.contains("optimizer.\(name).step") {
            for i in optimizer.parameters.indices {
                for (key, target) in [("exp_avg", optimizer.firstMoments[i]), ("exp_avg_sq", optimizer.secondMoments[i])] {
                    let value = try file.tensor("optimizer.\(name).\(key).\(i)")
                    guard value.shape == target.shape else {
                        throw incompatible("optimizer.\(name).\(key).\(i) has shape \(value.shape), expected \(target.shape)")
                    }
                    target.assign(value)
                }
            }
            let steps = try file.int64s("optimizer.\(name).step")
            guard steps.count == optimizer.parameters.count, steps.allSatisfy({ $0 >= 0 }) else {
                throw incompatible("optimizer.\(name).step holds \(steps.count) counts for \(optimizer.parameters.count) parameters")
            }
            optimizer.restoreSteps(steps.map(Int.init))
        }
        if let g = try stream("lime") { model.limeGenerator = g }
        if let dense = model.discriminator as? DenseDiscriminator, let g = try stream("dropout") { dense.dropoutGenerator = g }
        if file.contains("shap.baselines") {
            let baselines = try file.tensor("shap.baselines")
            guard baselines.rank == 4, baselines.shape.dropFirst() == [configuration.channels, configuration.side, configuration.side] else {
                throw incompatible("shap.baselines has shape \(baselines.shape)")
            }
            model.shapBaselines = baselines
        }
        let options = try file.metadata[optionsKey].map { try JSONDecoder().decode(SingleGANOptions.self, from: Data($0.utf8)) }
        var state: SingleGANState?
        if let json = file.metadata[progressKey], let noise = try stream("noise") {
            let progress = try JSONDecoder().decode(TrainingProgress.self, from: Data(json.utf8))
            guard progress.planGeneratorState.count == 4, progress.epoch >= 1, progress.itemsConsumed >= 0,
                  progress.globalStep >= 0 else { throw incompatible("implausible training progress") }
            state = SingleGANState(noise: noise, progress: progress)
        }
        return (model, configuration, options, state)
    }
}
