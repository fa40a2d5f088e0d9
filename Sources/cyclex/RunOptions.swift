import ArgumentParser
import CyclexTraining
import Foundation

/// The options every training command shares (`cyclex train`, `cyclex gan train`): length,
/// seed, where the run lives, when it stops and how often it shows samples. Each command adds
/// its model's own options (and its own `--batch-size`, whose default differs by model).
struct RunOptions: ParsableArguments {
    @Option(help: "Epochs in total.")
    var epochs = 10

    @Option(help: "Random seed (weights, data order and every noise stream).")
    var seed: UInt64 = 0

    @Option(help: "Run name (default: from the data folder and the model).")
    var name: String?

    @Option(help: "Folder for runs.")
    var output = "checkpoints"

    @Option(help: "Write a sample grid every N steps (0: at epoch ends only).")
    var sampleEvery = 500

    @Option(help: "Stop after this many steps in total (a checkpoint is saved; rerun to continue).")
    var maxSteps: Int?

    @Option(help: "Stop after this much training time, e.g. 300, 10m or 1h (a checkpoint is saved).")
    var timeLimit: String?

    @Flag(help: "Start from scratch even if OUTPUT/NAME has a checkpoint.")
    var restart = false

    /// `--time-limit` in seconds (validated by `validate()`).
    var timeLimitSeconds: Double? { timeLimit.flatMap(parseDuration) }

    func validate() throws {
        let b = FlagBounds.self
        try UsageError.require((1...b.maxEpochs).contains(epochs), "--epochs \(epochs): must be 1 to \(b.maxEpochs)")
        if let maxSteps {
            try UsageError.require((1...b.maxSteps).contains(maxSteps), "--max-steps \(maxSteps): must be 1 to \(b.maxSteps)")
        }
        if let timeLimit {
            let seconds = parseDuration(timeLimit)
            try UsageError.require(seconds != nil, "--time-limit '\(timeLimit)': cannot read it (use seconds, or 10m, 2h)")
            try UsageError.require(seconds!.isFinite && seconds! > 0 && seconds! <= b.maxTimeLimit,
                                   "--time-limit '\(timeLimit)': must be more than 0 and at most a year")
        }
        try UsageError.require(sampleEvery >= 0, "--sample-every \(sampleEvery): must be 0 (epoch ends only) or more")
        if let name {
            try UsageError.require(isSinglePathComponent(name),
                                   "--name '\(name)': must be a single folder name (not empty, no '/', not '.' or '..')")
        }
        try UsageError.require(!output.isEmpty, "--output: must not be empty")
    }
}

/// Runs a trainer to its end and prints where the run is. An interrupted run ends like the
/// signal asked, after its checkpoint: 130 (SIGINT) or 143 (SIGTERM).
func finishTraining(_ train: () throws -> TrainingSummary) throws {
    let summary = try reportingErrors(train)
    print("run folder: \(summary.runDirectory.path)")
    print("checkpoint: \(summary.checkpoint.path)")
    if summary.ending == .interrupted { throw ExitCode(128 + max(Interruption.signal.load(ordering: .relaxed), SIGINT)) }
}
