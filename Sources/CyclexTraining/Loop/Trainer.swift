import CyclexEngine
import CyclexInference
import CyclexImaging
import CyclexNN
import Foundation
import Synchronization

/// Set by the CLI's SIGINT handler; the trainer checkpoints and stops after the current step.
public enum Interruption {
    public static let requested = Atomic<Bool>(false)
}

/// Why a training run stopped early, naming the step and images.
public enum TrainingError: LocalizedError {
    case nonFinite(step: Int, epoch: Int, files: [String], detail: String, checkpoint: String)
    case incompatibleRun(directory: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .nonFinite(step, epoch, files, detail, checkpoint):
            return "training diverged at step \(step) (epoch \(epoch)): \(detail), on images \(files.joined(separator: ", ")). "
                + "Nothing was written for this step; the last good checkpoint is \(checkpoint). "
                + "Try a lower learning rate or check these images."
        case let .incompatibleRun(directory, reason):
            return "\(directory) holds a run with different settings (\(reason)); pass --restart to overwrite it or --name to start another run"
        }
    }
}

/// How a run ended.
public struct TrainingSummary {
    public enum Ending: String { case completed, interrupted, stepLimit = "step limit", timeLimit = "time limit" }
    public let ending: Ending
    public let progress: TrainingProgress
    public let checkpoint: URL
    public let runDirectory: URL
}

/// Trains a CycleGAN-family model on an image folder, resumably: `latest.safetensors` is
/// written atomically at every epoch end, when a step or time limit is reached, and on
/// interruption; re-running the same command continues exactly where it stopped.
public final class Trainer {
    public let options: TrainingOptions
    public let display: ProgressDisplay
    /// Receives warnings and notes (standard error by default).
    public var note: (String) -> Void

    public init(options: TrainingOptions, display: ProgressDisplay = ProgressDisplay()) {
        self.options = options
        self.display = display
        note = { display.message($0) }
    }

    public var latestCheckpoint: URL { options.runDirectory.appendingPathComponent("latest.safetensors") }

    /// Runs (or resumes) the training; `restart` ignores an existing checkpoint.
    public func run(restart: Bool = false) throws -> TrainingSummary {
        let runDirectory = options.runDirectory
        try FileManager.default.createDirectory(at: runDirectory.appendingPathComponent("samples"),
                                                withIntermediateDirectories: true)
        let dataset = try UnpairedDataset(root: URL(fileURLWithPath: options.dataRoot), phase: "train")
        dataset.warnings.forEach(note)
        let configuration = options.configuration
        let decayEpochs = options.decayEpochs ?? options.epochs / 2

        var model: any CycleTranslationModel
        var progress: TrainingProgress
        if !restart, FileManager.default.fileExists(atPath: latestCheckpoint.path) {
            let loaded = try Checkpoint.load(latestCheckpoint)
            guard loaded.model.configuration == configuration else {
                throw TrainingError.incompatibleRun(directory: runDirectory.path, reason: "model configuration differs")
            }
            model = loaded.model
            progress = loaded.progress ?? TrainingProgress(planGeneratorState: RandomGenerator(seed: options.seed).state,
                                                           totalEpochs: options.epochs, decayEpochs: decayEpochs)
            progress.totalEpochs = options.epochs
            progress.decayEpochs = decayEpochs
            note("resuming \(runDirectory.path) at epoch \(progress.epoch), step \(progress.globalStep)")
        } else {
            model = makeModel(configuration, seed: options.seed)
            var planSeed = RandomGenerator(seed: options.seed ^ 0x5EED_DA7A)
            progress = TrainingProgress(planGeneratorState: planSeed.split().state, totalEpochs: options.epochs,
                                        decayEpochs: decayEpochs)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(options), to: runDirectory.appendingPathComponent("options.json"))

        let schedule: LearningRateSchedule = configuration.kind == .cycleGAN
            ? .junyanzEnd(constantEpochs: options.epochs - decayEpochs, decayEpochs: decayEpochs)
            : .decayAfter(decayStart: options.epochs - decayEpochs, totalEpochs: options.epochs)
        let preprocessing = Preprocessing(
            mode: options.preprocessing, size: options.size, filter: configuration.kind == .cycleGAN ? .bicubic : .bilinear,
            horizontalFlip: true, verticalFlip: options.verticalFlip, channels: configuration.channels)
        try preprocessing.validate()
        let (probesA, probesB) = try probes(dataset: dataset)
        let log = try TrainingLog(url: runDirectory.appendingPathComponent("log.jsonl"))
        let stepsPerEpoch = dataset.stepsPerEpoch(policy: .cycleGAN)
        let startTime = Date()
        var stepsThisSession = 0

        func save() throws {
            try Checkpoint.save(model, progress: progress, to: latestCheckpoint)
        }
        func finish(_ ending: TrainingSummary.Ending) throws -> TrainingSummary {
            try save()
            note("\(ending == .completed ? "finished" : "stopped (\(ending.rawValue))") at epoch \(min(progress.epoch, options.epochs)), "
                 + "step \(progress.globalStep); checkpoint \(latestCheckpoint.path)")
            return TrainingSummary(ending: ending, progress: progress, checkpoint: latestCheckpoint, runDirectory: runDirectory)
        }

        while progress.epoch <= options.epochs {
            model.setLearningRateFactor(schedule.factor(epoch: progress.epoch))
            var planGenerator = RandomGenerator(seed: 0)
            planGenerator.state = progress.planGeneratorState
            let plan = dataset.epochPlan(policy: .cycleGAN, using: &planGenerator)
            let loader = UnpairedLoader(
                dataset: dataset, plan: plan, preprocessing: preprocessing, batchSize: options.batchSize,
                workers: options.decodeWorkers)
            loader.skip(progress.itemsConsumed)
            let epochStart = Date()
            var epochSteps = 0
            while let batch = loader.next() {
                let report: StepReport
                do {
                    report = try model.trainStep(realA: batch.realA, realB: batch.realB)
                } catch let error as TrainingStepError {
                    throw TrainingError.nonFinite(
                        step: progress.globalStep + 1, epoch: progress.epoch,
                        files: (batch.urlsA + batch.urlsB).map(\.lastPathComponent), detail: error.localizedDescription,
                        checkpoint: FileManager.default.fileExists(atPath: latestCheckpoint.path)
                            ? latestCheckpoint.path : "(none yet)")
                }
                progress.globalStep += 1
                progress.itemsConsumed = loader.itemsConsumed
                stepsThisSession += 1
                epochSteps += 1
                try log.append(step: progress.globalStep, epoch: progress.epoch, report: report,
                               learningRate: schedule.factor(epoch: progress.epoch) * configuration.learningRateGenerator)
                let elapsed = Date().timeIntervalSince(epochStart)
                let rate = Double(epochSteps * options.batchSize) / max(elapsed, 1e-9)
                let epochFraction = Double(progress.itemsConsumed) / Double(max(plan.count, 1))
                let remainingEpoch = Double(plan.count - progress.itemsConsumed) / max(rate, 1e-9)
                var remainingRun = remainingEpoch + Double((options.epochs - progress.epoch) * stepsPerEpoch) / max(rate, 1e-9)
                var runEnd = "run"
                // A step or time limit that comes first is what the user waits for.
                if let maxSteps = options.maxSteps {
                    let untilLimit = Double(maxSteps - progress.globalStep) * Double(options.batchSize) / max(rate, 1e-9)
                    if untilLimit < remainingRun { (remainingRun, runEnd) = (untilLimit, "step limit") }
                }
                if let limit = options.timeLimit {
                    let untilLimit = max(0, limit - Date().timeIntervalSince(startTime))
                    if untilLimit < remainingRun { (remainingRun, runEnd) = (untilLimit, "time limit") }
                }
                display.update(
                    progressLine(progress: progress, fraction: epochFraction, planCount: plan.count, rate: rate,
                                 etaEpoch: remainingEpoch, etaRun: remainingRun, runEnd: runEnd, report: report),
                    step: progress.globalStep)
                if options.sampleEvery > 0 && progress.globalStep % options.sampleEvery == 0 {
                    try writeSamples(model, probesA, probesB, name: String(format: "epoch%03d_step%07d.png", progress.epoch, progress.globalStep))
                }
                if Interruption.requested.load(ordering: .relaxed) { return try finish(.interrupted) }
                if let maxSteps = options.maxSteps, progress.globalStep >= maxSteps { return try finish(.stepLimit) }
                if let limit = options.timeLimit, Date().timeIntervalSince(startTime) >= limit { return try finish(.timeLimit) }
            }
            // Epoch end.
            progress.epoch += 1
            progress.itemsConsumed = 0
            progress.planGeneratorState = planGenerator.state
            try save()
            try writeSamples(model, probesA, probesB, name: String(format: "epoch%03d.png", progress.epoch - 1))
            if options.snapshotEvery > 0 && (progress.epoch - 1) % options.snapshotEvery == 0 {
                try Checkpoint.save(model, progress: progress,
                                    to: runDirectory.appendingPathComponent(String(format: "epoch%03d.safetensors", progress.epoch - 1)))
            }
            let summary = report(forEpoch: progress.epoch - 1, log: log)
            note(summary + (loader.skippedFiles.summary.isEmpty ? "" : "; " + loader.skippedFiles.summary))
        }
        return try finish(.completed)
    }

    /// One progress line; `runEnd` names what ends the run ("run", "time limit" or "step limit").
    func progressLine(progress: TrainingProgress, fraction: Double, planCount: Int, rate: Double, etaEpoch: Double,
                      etaRun: Double, runEnd: String = "run", report: StepReport) -> String {
        let losses = report.losses.prefix(3).map { "\($0.name) \(String(format: "%.3f", $0.value))" }
            + report.losses.filter { $0.name.hasPrefix("D_") }.map { "\($0.name) \(String(format: "%.3f", $0.value))" }
        let lambdas = report.diagnostics.filter { $0.name.hasPrefix("lambda_") }
            .map { "\($0.name.dropFirst(7)) \(String(format: "%.2f", $0.value))" }
        return "epoch \(progress.epoch)/\(options.epochs) \(ProgressDisplay.bar(fraction)) \(progress.itemsConsumed)/\(planCount) "
            + String(format: "%.1f img/s", rate) + " ETA \(ProgressDisplay.duration(etaEpoch)) (\(runEnd) \(ProgressDisplay.duration(etaRun))) | "
            + losses.joined(separator: " ") + (lambdas.isEmpty ? "" : " | λ " + lambdas.joined(separator: " "))
    }

    func report(forEpoch epoch: Int, log: TrainingLog) -> String {
        let means = log.epochMeans(epoch)
        return "epoch \(epoch) done: " + means.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
    }

    func writeSamples(_ model: any CycleTranslationModel, _ a: Tensor, _ b: Tensor, name: String) throws {
        try SampleGrid.write(generators: model.generatorPair, probesA: a, probesB: b,
                             to: options.runDirectory.appendingPathComponent("samples").appendingPathComponent(name))
    }

    /// Up to four fixed probe images per domain: from testA/testB when present, else the first
    /// training images; resized to the training size.
    func probes(dataset: UnpairedDataset) throws -> (Tensor, Tensor) {
        let root = URL(fileURLWithPath: options.dataRoot)
        let test = try? UnpairedDataset(root: root, phase: "test")
        let folders = [test?.domainA ?? dataset.domainA, test?.domainB ?? dataset.domainB]
        let preprocessing = Preprocessing.inference(size: options.size, channels: options.configuration.channels)
        var result: [Tensor] = []
        for folder in folders {
            var g = RandomGenerator(seed: 0)
            var images: [Tensor] = []
            for url in folder.files where images.count < 4 {
                guard let loaded = try? preprocessing.load(url, using: &g) else { continue }
                images.append(Tensor(shape: [1, preprocessing.channels, options.size, options.size], scalars: loaded.scalars))
            }
            guard !images.isEmpty else { throw ImageError.emptyFolder(path: folder.root.path, detail: "none of its images could be read for sample grids") }
            result.append(withoutGradient { Tensor.concatenate(images, alongAxis: 0) })
        }
        return (result[0], result[1])
    }
}
