import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation
import Testing

/// What each recipe declares is what its step reports and what the trainer logs and samples.
struct RecipeTests {
    @Test(arguments: [ModelConfiguration.Kind.cycleGAN, .xaiCycleGAN])
    func declaredNamesMatchTheStep(kind: ModelConfiguration.Kind) throws {
        let configuration = ModelConfiguration.preset(.tiny, kind: kind, imageSize: 32)
        let model = makeModel(configuration, seed: 2)
        #expect(type(of: model) == kind.recipe)
        var g = RandomGenerator(seed: 6)
        let shape = [1, configuration.channels, 32, 32]
        let report = try model.trainStep(realA: Tensor(randomUniform: shape, lowerBound: -1, upperBound: 1, using: &g),
                                         realB: Tensor(randomUniform: shape, lowerBound: -1, upperBound: 1, using: &g))
        let declaration = model.declaration
        #expect(report.losses.map(\.name) == declaration.losses)
        for name in declaration.loggedDiagnostics { #expect(report[diagnostic: name] != nil, "\(name) not reported") }
        for lambda in declaration.lambdas { #expect(declaration.loggedDiagnostics.contains(lambda.name)) }
        let images = model.sampleImages(probesA: Tensor(zeros: shape), probesB: Tensor(zeros: shape))
        for name in declaration.sampleRows.joined() { #expect(images[name]?.shape == shape, "\(name)") }
    }

    /// CycleGAN epochs have max(|A|, |B|) steps, xAI-CycleGAN epochs min(|A|, |B|); the log
    /// holds the declared values.
    @Test(arguments: [(ModelConfiguration.Kind.cycleGAN, 3), (.xaiCycleGAN, 2)])
    func epochPolicyOfEachRecipe(kind: ModelConfiguration.Kind, steps: Int) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-recipe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var g = RandomGenerator(seed: 8)
        for (domain, count) in [("trainA", 3), ("trainB", 2)] {
            let folder = root.appendingPathComponent("data/\(domain)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<count {
                let samples = (0..<(40 * 36 * 3)).map { _ in UInt8(g.nextInt(below: 256)) }
                try Image(width: 40, height: 36, channels: 3, samples: samples).write(to: folder.appendingPathComponent("\(i).png"))
            }
        }
        var o = TrainingOptions(dataRoot: root.appendingPathComponent("data").path)
        o.model = kind; o.preset = .tiny; o.size = 32; o.epochs = 1; o.name = "run"
        o.output = root.appendingPathComponent("runs").path; o.sampleEvery = 0
        let trainer = Trainer(options: o)
        trainer.note = { _ in }
        let summary = try trainer.run()
        #expect(summary.progress.globalStep == steps)
        let lines = try String(contentsOf: o.runDirectory.appendingPathComponent("log.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == steps)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let declared = makeModel(o.configuration, seed: 0).declaration.loggedNames
        #expect(Set(first.keys) == Set(declared + ["step", "epoch", "time", "lr"]))
    }
}
