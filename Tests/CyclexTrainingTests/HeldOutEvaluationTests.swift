import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexNN
@testable import CyclexTraining
import Foundation
import Testing

/// `--eval-every`'s scoring of the held-out split, with generators whose output is known.
struct HeldOutEvaluationTests {
    /// Generators that return their input unchanged: translations then score exactly like the
    /// untranslated inputs (up to the 8-bit round trip).
    final class IdentityPair: GeneratorPair {
        let configuration = ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: 16)
        var networks: [(prefix: String, module: any Module)] { [] }
        func generate(_ images: Tensor, direction: TranslationDirection) -> Tensor { images }
    }

    /// testA holds flat grey images of level 100 + i, testB level 160 + i, same names; testB has
    /// one more image without a counterpart.
    static func makeData(in root: URL) throws {
        for folder in ["testA", "testB"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let flat = { (v: Int) in Image(width: 16, height: 16, channels: 3, samples: [UInt8](repeating: UInt8(v), count: 16 * 16 * 3)) }
        for i in 0..<3 {
            try flat(100 + i).write(to: root.appendingPathComponent("testA/p\(i).png"))
            try flat(160 + i).write(to: root.appendingPathComponent("testB/p\(i).png"))
        }
        try flat(10).write(to: root.appendingPathComponent("testB/extra.png"))
    }

    @Test func identityGeneratorsScoreLikeTheInputs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-heldout-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.makeData(in: root)
        let evaluation = try HeldOutEvaluation(dataRoot: root, size: 16, channels: 3)
        #expect(evaluation.counts == (3, 4))
        var scorerCalls: [(real: Int, fake: Int)] = []
        evaluation.distributionScorer = { real, fake in
            scorerCalls.append((real.count, fake.count))
            return [("kid", Double(fake.count) / 100)]
        }
        let scores = try evaluation.evaluate(IdentityPair())
        let byName = Dictionary(uniqueKeysWithValues: scores.map { ($0.name, $0.value) })
        // Every pair differs by 60 levels: L1 60/255, PSNR 10·log10(255²/3600), SSIM the luminance term.
        for direction in ["a2b", "b2a"] {
            #expect(abs(byName["l1_\(direction)_identity"]! - 60.0 / 255) < 1e-12)
            #expect(abs(byName["psnr_\(direction)_identity"]! - 10 * log10(255.0 * 255 / 3600)) < 1e-9)
            #expect(abs(byName["l1_\(direction)"]! - byName["l1_\(direction)_identity"]!) <= 1.0 / 255)
            #expect(byName["ssim_\(direction)"] != nil)
        }
        // KID of the translations (3 from A, 4 from B) and of the identity baseline, each direction.
        #expect(byName["kid_a2b"] == 0.03 && byName["kid_b2a"] == 0.04)
        #expect(byName["kid_a2b_identity"] == 0.03 && scorerCalls.count == 4)
        let criterion = HeldOutEvaluation.criterion(scores)
        #expect(criterion?.name == "kid" && abs(criterion!.value - 0.07) < 1e-12)

        // Identity baselines are computed once: the second evaluation calls the scorer twice.
        _ = try evaluation.evaluate(IdentityPair())
        #expect(scorerCalls.count == 6)
    }

    @Test func withoutKIDTheCriterionIsPairedL1() {
        let scores: [(name: String, value: Double)] = [("l1_a2b", 0.1), ("l1_b2a", 0.2), ("l1_a2b_identity", 0.5)]
        let criterion = HeldOutEvaluation.criterion(scores)
        #expect(criterion?.name == "l1" && abs(criterion!.value - 0.3) < 1e-12)
        #expect(HeldOutEvaluation.criterion([("psnr_a2b", 20)]) == nil)
    }

    @Test func missingTestFolderIsNamed() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-heldout-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("testA"), withIntermediateDirectories: true)
        #expect(throws: ImageError.self) { try HeldOutEvaluation(dataRoot: root, size: 16, channels: 3) }
    }
}

struct BestCheckpointTests {
    @Test func intervalsParse() {
        #expect(EvaluationInterval("500") == .steps(500) && EvaluationInterval("20steps") == .steps(20))
        #expect(EvaluationInterval("2e") == .epochs(2) && EvaluationInterval("1epoch") == .epochs(1))
        #expect(EvaluationInterval("0") == nil && EvaluationInterval("-3") == nil && EvaluationInterval("5x") == nil)
        #expect(EvaluationInterval.steps(10).isDue(afterStep: 20) && !EvaluationInterval.steps(10).isDue(afterStep: 21))
        #expect(EvaluationInterval.epochs(2).isDue(afterEpoch: 4) && !EvaluationInterval.epochs(2).isDue(afterStep: 4))
    }

    /// The first evaluation saves best.safetensors and best.json and logs an eval line; an equal
    /// score later does not replace it; a new keeper (resume) reads the record back.
    @Test func keepsTheBestCheckpoint() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-best-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        try HeldOutEvaluationTests.makeData(in: root)
        let run = root.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let model = makeModel(ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: 16), seed: 1)
        let log = try TrainingLog(url: run.appendingPathComponent("log.jsonl"))
        let keeper = BestCheckpointKeeper(evaluation: try HeldOutEvaluation(dataRoot: root, size: 16, channels: 3),
                                          runDirectory: run, note: { _ in })
        var progress = TrainingProgress(planGeneratorState: RandomGenerator(seed: 0).state, totalEpochs: 2, decayEpochs: 1)
        progress.globalStep = 5
        let first = try keeper.evaluate(model, progress: progress, log: log)
        #expect(first.contains("l1_a2b") && first.contains("saved best.safetensors"))
        #expect(keeper.best?.step == 5 && keeper.best?.criterion == "l1")
        #expect(FileManager.default.fileExists(atPath: keeper.checkpointURL.path))
        #expect(try Checkpoint.load(keeper.checkpointURL).progress?.globalStep == 5)

        progress.globalStep = 9
        let second = try keeper.evaluate(model, progress: progress, log: log)  // same weights, same score
        #expect(!second.contains("saved") && keeper.best?.step == 5)

        let resumed = BestCheckpointKeeper(evaluation: keeper.evaluation, runDirectory: run, note: { _ in })
        #expect(resumed.best == keeper.best)
        let history = try RunHistory(contentsOf: run.appendingPathComponent("log.jsonl"))
        #expect(history.evaluation.first { $0.name == "l1_a2b" }?.points.map(\.step) == [5, 9])
        #expect(history.training.isEmpty)
    }
}
