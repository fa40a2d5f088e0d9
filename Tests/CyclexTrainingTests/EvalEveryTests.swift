import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation
import Testing

/// `cyclex train --eval-every` end to end on tiny paired folders: evaluation lines in the log at
/// the right steps, `best.safetensors` and `best.json` kept by the criterion.
@Suite(.serialized)
struct EvalEveryTests {
    /// `<tmp>/data/{train,test}{A,B}` with 3 random 32×32 PNGs each, the same names in A and B.
    func makeData() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-evalevery-\(UUID().uuidString)")
        var g = RandomGenerator(seed: 11)
        for folder in ["trainA", "trainB", "testA", "testB"] {
            let url = root.appendingPathComponent("data/\(folder)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for i in 0..<3 {
                let samples = (0..<(32 * 32 * 3)).map { _ in UInt8(g.nextInt(below: 256)) }
                try Image(width: 32, height: 32, channels: 3, samples: samples).write(to: url.appendingPathComponent("\(i).png"))
            }
        }
        return root
    }

    func trainer(_ root: URL, every: EvaluationInterval, maxSteps: Int, scorer: HeldOutEvaluation.DistributionScorer?) -> Trainer {
        var o = TrainingOptions(dataRoot: root.appendingPathComponent("data").path)
        o.preset = .tiny; o.size = 32; o.epochs = 3; o.seed = 2; o.name = "run"; o.sampleEvery = 0
        o.output = root.appendingPathComponent("runs").path; o.maxSteps = maxSteps; o.evaluateEvery = every
        let t = Trainer(options: o)
        t.note = { _ in }
        t.distributionScorer = scorer
        return t
    }

    @Test func evaluatesEveryNStepsAndKeepsTheBest() throws {
        let root = try makeData()
        defer { try? FileManager.default.removeItem(at: root) }
        // A constant KID: the first evaluation stays the best.
        let summary = try trainer(root, every: .steps(2), maxSteps: 5, scorer: { _, _ in [("kid", 0.1)] }).run()
        let run = summary.runDirectory
        let history = try RunHistory(contentsOf: run.appendingPathComponent("log.jsonl"))
        #expect(history.evaluation.first { $0.name == "kid_a2b" }?.points.map(\.step) == [2, 4])
        #expect(history.evaluation.first { $0.name == "l1_b2a_identity" } != nil)
        #expect(history.training.first { $0.name == "G" }?.points.count == 5)
        let record = try JSONDecoder().decode(BestCheckpointKeeper.Record.self,
                                              from: Data(contentsOf: run.appendingPathComponent("best.json")))
        #expect(record.step == 2 && record.criterion == "kid" && abs(record.value - 0.2) < 1e-12)
        #expect(try Checkpoint.load(run.appendingPathComponent("best.safetensors")).progress?.globalStep == 2)
    }

    @Test func evaluatesAtEpochEnds() throws {
        let root = try makeData()
        defer { try? FileManager.default.removeItem(at: root) }
        // 3 images per domain: 3 steps per epoch; without a scorer the criterion is paired L1.
        let summary = try trainer(root, every: .epochs(1), maxSteps: 7, scorer: nil).run()
        let history = try RunHistory(contentsOf: summary.runDirectory.appendingPathComponent("log.jsonl"))
        #expect(history.evaluation.first { $0.name == "l1_a2b" }?.points.map(\.step) == [3, 6])
        #expect(history.evaluation.allSatisfy { !$0.name.hasPrefix("kid") })
        let record = try JSONDecoder().decode(BestCheckpointKeeper.Record.self,
                                              from: Data(contentsOf: summary.runDirectory.appendingPathComponent("best.json")))
        #expect(record.criterion == "l1" && [3, 6].contains(record.step))
    }
}
