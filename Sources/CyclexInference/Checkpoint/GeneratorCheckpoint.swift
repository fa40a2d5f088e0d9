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
        // Weights are overwritten below; the seed only fills them until then.
        var g = RandomGenerator(seed: 0)
        let generators = makeGeneratorPair(configuration, using: &g)
        try CheckpointFormat.load(generators.networks, from: file)
        return generators
    }

    /// Writes a generator-only checkpoint (configuration + both generators) atomically.
    public static func save(_ generators: any GeneratorPair, to url: URL) throws {
        var writer = CheckpointFormat.writer(for: generators.configuration)
        CheckpointFormat.add(generators.networks, to: &writer)
        try writer.write(to: url)
    }
}
