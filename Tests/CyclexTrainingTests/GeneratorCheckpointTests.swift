import CyclexEngine
import CyclexInference
import CyclexNN
import CyclexTraining
import Foundation
import Testing

/// `GeneratorCheckpoint`: the inference reader builds and reads only the two generators, from
/// training checkpoints and from generator-only checkpoints (the contract `cyclex import` writes).
struct GeneratorCheckpointTests {
    @Test(arguments: [ModelConfiguration.Kind.cycleGAN, .xaiCycleGAN])
    func readsTrainingAndGeneratorOnlyCheckpoints(kind: ModelConfiguration.Kind) throws {
        let root = try TranslateTests.temporaryFolder("generators-\(kind.rawValue)")
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoint = try TranslateTests.trainTinyCheckpoint(kind: kind, root: root)
        let full = try Checkpoint.load(checkpoint).model
        let generators = try GeneratorCheckpoint.load(checkpoint)
        #expect(generators.configuration == full.configuration)

        // The generators carry the trained weights, under the training model's prefixes.
        let trained = full.generatorPair.networks
        #expect(generators.networks.map(\.prefix) == trained.map(\.prefix))
        for (mine, theirs) in zip(generators.networks, trained) {
            for (a, b) in zip(mine.module.namedState, theirs.module.namedState) {
                #expect(a.name == b.name && a.tensor.scalars == b.tensor.scalars, "\(mine.prefix).\(a.name)")
            }
        }

        // A generator-only checkpoint holds the configuration and exactly the generators' tensors.
        let small = root.appendingPathComponent("generators.safetensors")
        try GeneratorCheckpoint.save(generators, to: small)
        let file = try SafeTensorsFile(contentsOf: small)
        let expectedNames = generators.networks.flatMap { n in n.module.namedState.map { "\(n.prefix).\($0.name)" } }
        #expect(Set(file.names) == Set(expectedNames))
        #expect(!Checkpoint.holdsTrainingState(file))
        #expect(Checkpoint.holdsTrainingState(try SafeTensorsFile(contentsOf: checkpoint)))

        // Reloaded, it translates exactly as the full model's generators do, both ways.
        let reloaded = try GeneratorCheckpoint.load(small)
        let side = 2 * full.configuration.stride * 2
        var g = RandomGenerator(seed: 4)
        let x = Tensor(randomNormal: [1, full.configuration.channels, side, side], mean: 0, standardDeviation: 0.5, using: &g)
        for direction in TranslationDirection.allCases {
            #expect(reloaded.translate(x, direction: direction).scalars
                    == full.generatorPair.translate(x, direction: direction).scalars, "\(direction)")
        }
    }

    /// The reader never touches training state: with every training-state tensor
    /// (optimiser moments and steps, pools, random streams) replaced by one of the wrong type and
    /// shape, the generator reader loads the same generators as before.
    @Test func trainingStateIsNeitherBuiltNorRead() throws {
        let root = try TranslateTests.temporaryFolder("generators-state")
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoint = try TranslateTests.trainTinyCheckpoint(kind: .cycleGAN, root: root)
        let original = try SafeTensorsFile(contentsOf: checkpoint)
        let generatorNames = Set(try GeneratorCheckpoint.load(checkpoint).networks.flatMap { n in
            n.module.namedState.map { "\(n.prefix).\($0.name)" }
        })
        let full = try Checkpoint.load(checkpoint).model
        let networkNames = Set(full.networks.flatMap { n in n.module.namedState.map { "\(n.prefix).\($0.name)" } })
        var writer = SafeTensorsWriter()
        writer.metadata = original.metadata
        var replaced = 0
        for name in original.names {
            if networkNames.contains(name) {
                writer.add(name, try original.tensor(name))
            } else {
                writer.add(name, bytes: [7], shape: [1])  // optimiser moments, steps, pools, streams
                replaced += 1
            }
        }
        #expect(replaced > 0)
        let tampered = root.appendingPathComponent("tampered.safetensors")
        try writer.write(to: tampered)
        let generators = try GeneratorCheckpoint.load(tampered)
        for (mine, theirs) in zip(generators.networks, full.generatorPair.networks) {
            for (a, b) in zip(mine.module.namedState, theirs.module.namedState) {
                #expect(generatorNames.contains("\(mine.prefix).\(a.name)") && a.tensor.scalars == b.tensor.scalars)
            }
        }
    }

    @Test func namesTheFileAndTheProblem() throws {
        let root = try TranslateTests.temporaryFolder("generators-bad")
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: 32)
        var g = RandomGenerator(seed: 1)
        let generators = makeGeneratorPair(configuration, using: &g)

        // One generator tensor left out.
        var writer = CheckpointFormat.writer(for: configuration)
        let all = generators.networks.flatMap { n in n.module.namedState.map { ("\(n.prefix).\($0.name)", $0.tensor) } }
        for (name, tensor) in all.dropLast() { writer.add(name, tensor) }
        let missing = root.appendingPathComponent("missing.safetensors")
        try writer.write(to: missing)
        do {
            _ = try GeneratorCheckpoint.load(missing)
            Issue.record("a checkpoint without \(all.last!.0) loaded")
        } catch let error as CheckpointError {
            let message = error.localizedDescription
            #expect(message.contains(missing.path) && message.contains(String(all.last!.0.split(separator: ".", maxSplits: 1)[1])),
                    "\(message)")
        }

        // No model configuration in the header.
        var bare = SafeTensorsWriter()
        for (name, tensor) in all { bare.add(name, tensor) }
        let headerless = root.appendingPathComponent("bare.safetensors")
        try bare.write(to: headerless)
        #expect(throws: CheckpointError.self) { _ = try GeneratorCheckpoint.load(headerless) }
        #expect(throws: CheckpointError.self) { _ = try GeneratorCheckpoint.load(root.appendingPathComponent("none.safetensors")) }
    }
}
