import CyclexEngine
import Foundation

/// Reads and writes the part of a checkpoint that inference needs: the model configuration and
/// the two generators. Reading builds nothing else and touches no other tensor, so it works on
/// training checkpoints (whose optimiser moments, pools and random streams stay unread on
/// disk) and on generator-only checkpoints alike.
public enum GeneratorCheckpoint {
    /// The generators stored in `url`, ready to translate.
    /// - Throws: `CheckpointError` naming the file (missing, not a cyclex checkpoint, a
    ///   generator tensor missing or of the wrong size), or the safetensors reader's error.
    public static func load(_ url: URL) throws -> any GeneratorPair {
        let file = try CheckpointFormat.open(url)
        let configuration = try CheckpointFormat.configuration(of: file)
        // A model imported from one PyTorch generator file holds only that direction's generator.
        let available = directions(in: file)
        let prefixes = generatorPrefixes(configuration.kind)
        try CheckpointFormat.requireWeights(configuration.minimumGeneratorWeights,
                                            under: available.map { $0 == .aToB ? prefixes[0] : prefixes[1] }, in: file)
        // Weights are overwritten below; the seed only fills them until then.
        var g = RandomGenerator(seed: 0)
        let generators = makeGeneratorPair(configuration, using: &g)
        let present = generators.networks.enumerated().filter { available.contains($0.offset == 0 ? .aToB : .bToA) }
        try CheckpointFormat.load(present.map(\.element), from: file)
        return generators
    }

    /// The directions the checkpoint can translate: both, except for a model `cyclex import`
    /// made from a single PyTorch generator file.
    public static func directions(in file: SafeTensorsFile) -> [TranslationDirection] {
        PyTorchImport.provenance(of: file)?.directions ?? TranslationDirection.allCases
    }

    /// Like `load`, but refuses a direction the checkpoint does not hold, naming the file.
    public static func load(_ url: URL, for direction: TranslationDirection) throws -> any GeneratorPair {
        let available = directions(in: try CheckpointFormat.open(url))
        guard available.contains(direction) else {
            throw CheckpointError.incompatible(
                path: url.path,
                reason: "holds only the \(available.map(\.rawValue).joined()) generator (imported from one PyTorch file); "
                    + "import both generator files (cyclex import G_A.pth G_B.pth) to translate \(direction.rawValue)")
        }
        return try load(url)
    }

    /// The checkpoint prefixes of the two generators of `kind`, A→B first.
    public static func generatorPrefixes(_ kind: ModelConfiguration.Kind) -> [String] {
        kind == .cycleGAN ? ["G_A", "G_B"] : ["G_AB", "G_BA"]
    }

    /// Writes a generator-only checkpoint (configuration + both generators) atomically.
    public static func save(_ generators: any GeneratorPair, to url: URL) throws {
        var writer = CheckpointFormat.writer(for: generators.configuration)
        CheckpointFormat.add(generators.networks, to: &writer)
        try writer.write(to: url)
    }
}
