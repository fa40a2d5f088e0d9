import Foundation

/// What every trainer derives from its clock and limits, once: the progress line's throughput and
/// ETAs, and why a run stops after a step. Shared by `Trainer` (CycleGANs) and `SingleGANTrainer`.
public struct RunPace {
    /// The run's limits (`--max-steps`, `--time-limit` in seconds) and its epochs.
    public var epochs: Int
    public var maxSteps: Int?
    public var timeLimit: Double?
    /// Images per step (for converting a step limit into time).
    public var batchSize: Int
    /// When this session started (time limits count from here).
    public let runStart: Date

    public init(epochs: Int, maxSteps: Int?, timeLimit: Double?, batchSize: Int, runStart: Date = Date()) {
        self.epochs = epochs; self.maxSteps = maxSteps; self.timeLimit = timeLimit; self.batchSize = batchSize
        self.runStart = runStart
    }

    /// Throughput and remaining time after a step.
    public struct Estimate: Equatable {
        /// Images per second in this epoch so far.
        public var rate: Double
        /// Seconds to the end of the epoch, and to the end of the run or the limit that comes first.
        public var epochSeconds: Double
        public var runSeconds: Double
        /// "run", "step limit" or "time limit": what `runSeconds` counts down to.
        public var runEnd: String

        public init(rate: Double, epochSeconds: Double, runSeconds: Double, runEnd: String) {
            self.rate = rate; self.epochSeconds = epochSeconds; self.runSeconds = runSeconds; self.runEnd = runEnd
        }
    }

    /// The estimate when `itemsDone` of `epochItems` images of epoch `epoch` are done, `imagesThisSession`
    /// of them since `epochStart`, at global step `globalStep`; later epochs are assumed to have
    /// `epochItems` images too.
    public func estimate(itemsDone: Int, epochItems: Int, imagesThisSession: Int, epochStart: Date, epoch: Int,
                         globalStep: Int, now: Date = Date()) -> Estimate {
        let rate = Double(imagesThisSession) / max(now.timeIntervalSince(epochStart), 1e-9)
        let epochSeconds = Double(max(epochItems - itemsDone, 0)) / max(rate, 1e-9)
        var runSeconds = epochSeconds + Double(max(epochs - epoch, 0) * epochItems) / max(rate, 1e-9)
        var runEnd = "run"
        // A step or time limit that comes first is what the user waits for.
        if let maxSteps {
            let untilLimit = Double(max(maxSteps - globalStep, 0)) * Double(batchSize) / max(rate, 1e-9)
            if untilLimit < runSeconds { (runSeconds, runEnd) = (untilLimit, "step limit") }
        }
        if let timeLimit {
            let untilLimit = max(0, timeLimit - now.timeIntervalSince(runStart))
            if untilLimit < runSeconds { (runSeconds, runEnd) = (untilLimit, "time limit") }
        }
        return Estimate(rate: rate, epochSeconds: epochSeconds, runSeconds: runSeconds, runEnd: runEnd)
    }

    /// The head of a progress line: "epoch E/N [bar] done/total R img/s ETA m:ss (run m:ss)".
    public func progressHead(epoch: Int, itemsDone: Int, epochItems: Int, _ e: Estimate) -> String {
        "epoch \(epoch)/\(epochs) \(ProgressDisplay.bar(Double(itemsDone) / Double(max(epochItems, 1)))) \(itemsDone)/\(epochItems) "
            + String(format: "%.1f img/s", e.rate)
            + " ETA \(ProgressDisplay.duration(e.epochSeconds)) (\(e.runEnd) \(ProgressDisplay.duration(e.runSeconds)))"
    }

    /// Why a run stops after global step `globalStep`, if it does: Ctrl-C, `--max-steps` or `--time-limit`.
    public func stopReason(globalStep: Int, now: Date = Date()) -> TrainingSummary.Ending? {
        if Interruption.requested.load(ordering: .relaxed) { return .interrupted }
        if let maxSteps, globalStep >= maxSteps { return .stepLimit }
        if let timeLimit, now.timeIntervalSince(runStart) >= timeLimit { return .timeLimit }
        return nil
    }

    /// The closing note of a run.
    public func endNote(_ ending: TrainingSummary.Ending, progress: TrainingProgress, checkpoint: URL) -> String {
        "\(ending == .completed ? "finished" : "stopped (\(ending.rawValue))") at epoch \(min(progress.epoch, epochs)), "
            + "step \(progress.globalStep); checkpoint \(checkpoint.path)"
    }
}

extension TrainingError {
    /// A step's non-finite loss or gradient as the run's error: the step and epoch it happened in,
    /// the inputs of the step, and the checkpoint that stays good (or that there is none yet).
    public static func nonFinite(_ error: TrainingStepError, progress: TrainingProgress, inputs: [String],
                                 checkpoint: URL) -> TrainingError {
        .nonFinite(step: progress.globalStep + 1, epoch: progress.epoch, files: inputs, detail: error.localizedDescription,
                   checkpoint: FileManager.default.fileExists(atPath: checkpoint.path) ? checkpoint.path : "(none yet)")
    }
}
