import CyclexEngine
import Foundation

/// Runs `--eval-every`'s evaluations for the trainer: scores the held-out split, appends the
/// scores to the log, and keeps `best.safetensors` (the whole training state at the lowest
/// `HeldOutEvaluation.criterion` so far) with `best.json` saying which step and value it holds,
/// so a resumed run keeps comparing against the same best.
public final class BestCheckpointKeeper {
    /// What `best.json` records.
    public struct Record: Codable, Equatable, Sendable {
        public var step: Int
        public var epoch: Int
        /// "kid" or "l1" (summed over both directions; lower is better).
        public var criterion: String
        public var value: Double
    }

    public let evaluation: HeldOutEvaluation
    public let checkpointURL: URL
    public let recordURL: URL
    public private(set) var best: Record?

    /// Reads `best.json` from `runDirectory` when present (an unreadable one is ignored with a
    /// note: the next evaluation then replaces it).
    public init(evaluation: HeldOutEvaluation, runDirectory: URL, note: (String) -> Void) {
        self.evaluation = evaluation
        checkpointURL = runDirectory.appendingPathComponent("best.safetensors")
        recordURL = runDirectory.appendingPathComponent("best.json")
        if let data = try? Data(contentsOf: recordURL) {
            if data.count < 1 << 16, let record = try? JSONDecoder().decode(Record.self, from: data), record.value.isFinite {
                best = record
            } else {
                note("\(recordURL.path) is unreadable; the next evaluation replaces best.safetensors")
            }
        }
    }

    /// Scores `model`, logs the scores, and saves `best.safetensors` when the criterion improved.
    /// Returns a one-line summary for the progress display.
    @discardableResult
    public func evaluate(_ model: any ModelRecipe, progress: TrainingProgress, log: TrainingLog) throws -> String {
        let scores = try evaluation.evaluate(model.generatorPair)
        try log.appendEvaluation(step: progress.globalStep, epoch: progress.epoch, scores: scores)
        var summary = "eval at step \(progress.globalStep): "
            + scores.filter { !$0.name.hasSuffix("_identity") && ["kid", "fid", "l1"].contains(RunHistory.group(of: $0.name)) }
                .map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
        guard let criterion = HeldOutEvaluation.criterion(scores), criterion.value.isFinite else { return summary }
        if best == nil || best!.criterion != criterion.name || criterion.value < best!.value {
            try Checkpoint.save(model, progress: progress, to: checkpointURL)
            let record = Record(step: progress.globalStep, epoch: progress.epoch, criterion: criterion.name, value: criterion.value)
            try AtomicFile.write(try JSONEncoder().encode(record), to: recordURL)
            best = record
            summary += " (best so far: saved best.safetensors)"
        }
        return summary
    }
}
