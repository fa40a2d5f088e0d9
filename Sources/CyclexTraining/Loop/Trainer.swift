import CyclexEngine
import CyclexInference
import CyclexImaging
import CyclexNN
import Foundation
import Synchronization

/// Set by the CLI's SIGINT handler; the trainer checkpoints and stops after the current step.
public enum Interruption {
    public static let requested = Atomic<Bool>(false)
    /// The signal that asked (SIGINT or SIGTERM), for the exit status 128 + signal.
    public static let signal = Atomic<Int32>(0)
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
///
/// Everything model-specific (networks, schedule, resize filter, epoch policy, what to log and
/// show) comes from the model's recipe (`ModelRecipe`). A run is `resume` (model and progress),
/// then per epoch `plan` (the epoch's pairs and loader), per batch `step` and `report`, and
/// `endEpoch`.
public final class Trainer {
    public let options: TrainingOptions
    public let display: ProgressDisplay
    /// Receives warnings and notes (standard error by default).
    public var note: (String) -> Void
    /// KID/FID (or other distribution scores) for `--eval-every`; paired scores only when nil.
    public var distributionScorer: HeldOutEvaluation.DistributionScorer?
    /// The replicas of a data-parallel run (`docs/distributed.md`); nil for one process. Replica 0
    /// alone writes (checkpoints, log, samples, options, progress); all replicas read the data.
    public var replicas: (any ReplicaGroup)?
    /// Steps between two comparisons of the replicas' checksums (also compared at every checkpoint).
    public var replicaCheckEvery = 100

    /// Whether this process writes the run's files (always, unless it is a replica other than 0).
    public var isWriter: Bool { (replicas?.rank ?? 0) == 0 }

    public init(options: TrainingOptions, display: ProgressDisplay = ProgressDisplay()) {
        self.options = options
        self.display = display
        note = { display.message($0) }
    }

    public var latestCheckpoint: URL { options.runDirectory.appendingPathComponent("latest.safetensors") }

    /// What a run carries from step to step.
    final class RunState {
        let model: any ModelRecipe
        var progress: TrainingProgress
        let dataset: UnpairedDataset
        let schedule: LearningRateSchedule
        /// `--decay-steps`: the step-counted decay that replaces `schedule` (nil: decay by epochs).
        let stepDecay: StepLinearDecay?
        let preprocessing: Preprocessing
        let probesA: Tensor, probesB: Tensor
        /// The run's log; nil on replicas other than 0 (they write nothing).
        let log: TrainingLog?
        /// `--eval-every`: held-out scoring and `best.safetensors` (nil when not asked for).
        var evaluation: BestCheckpointKeeper?
        let startTime = Date()

        init(model: any ModelRecipe, progress: TrainingProgress, dataset: UnpairedDataset, schedule: LearningRateSchedule,
             stepDecay: StepLinearDecay?, preprocessing: Preprocessing, probes: (Tensor, Tensor), log: TrainingLog?) {
            self.model = model; self.progress = progress; self.dataset = dataset; self.schedule = schedule
            self.stepDecay = stepDecay
            self.preprocessing = preprocessing; (probesA, probesB) = probes; self.log = log
        }

        /// The learning-rate factor of step `step` (1-based) in the current epoch.
        func learningRateFactor(step: Int) -> Float {
            stepDecay.map { $0.factor(step: step) } ?? schedule.factor(epoch: progress.epoch)
        }

        /// The generator learning rate of the step just taken (logged).
        var learningRate: Float { learningRateFactor(step: progress.globalStep) * model.configuration.learningRateGenerator }
    }

    /// One epoch in progress: its plan, loader and timing.
    struct EpochRun {
        let planCount: Int
        let loader: UnpairedLoader
        /// The plan stream after drawing this epoch's plan (saved at the epoch's end).
        let planGeneratorAfter: RandomGenerator
        let start = Date()
        var steps = 0
    }

    /// Runs (or resumes) the training; `restart` ignores an existing checkpoint. The run folder
    /// is locked for the duration (see `RunDirectory`), and removed again when this session
    /// created it and fails before writing a checkpoint.
    public func run(restart: Bool = false) throws -> TrainingSummary {
        guard isWriter else { return try train(restart: restart) }
        let run = try RunDirectory(output: URL(fileURLWithPath: options.output), name: options.runName)
        if !run.removedLeftovers.isEmpty {
            note("removed \(run.removedLeftovers.count) temporary file(s) of interrupted writes: "
                 + run.removedLeftovers.joined(separator: ", "))
        }
        do {
            return try train(restart: restart)
        } catch {
            run.discardIfUnused()
            throw error
        }
    }

    private func train(restart: Bool) throws -> TrainingSummary {
        let state = try resume(restart: restart)
        while state.progress.epoch <= options.epochs {
            var epoch = plan(state)
            while let batch = try nextBatch(&epoch, state) {
                let report = try step(batch, state, &epoch)
                try self.report(report, state, epoch)
                if let ending = try stopReason(state) { return try finish(ending, state) }
            }
            try endEpoch(state, epoch)
        }
        return try finish(.completed, state)
    }

    // MARK: - Resume

    /// The model and progress: from `latest.safetensors` when it exists (and `restart` is false),
    /// else fresh from the seed; plus the data, schedule, preprocessing, probes and log.
    func resume(restart: Bool) throws -> RunState {
        let runDirectory = options.runDirectory
        let dataset = try UnpairedDataset(root: URL(fileURLWithPath: options.dataRoot), phase: "train")
        dataset.warnings.forEach(note)
        let configuration = options.configuration
        let decayEpochs = options.decayEpochs ?? options.epochs / 2

        var model: any ModelRecipe
        var progress: TrainingProgress
        if !isWriter {
            // Filled from replica 0's broadcast below.
            model = makeModel(configuration, seed: options.seed)
            progress = TrainingProgress(planGeneratorState: [1, 0, 0, 0], totalEpochs: options.epochs, decayEpochs: decayEpochs)
        } else if !restart, FileManager.default.fileExists(atPath: latestCheckpoint.path) {
            let loaded = try Checkpoint.load(latestCheckpoint)
            guard loaded.model.configuration == configuration else {
                throw TrainingError.incompatibleRun(directory: runDirectory.path, reason: "model configuration differs")
            }
            guard loaded.progress != nil else {
                throw TrainingError.incompatibleRun(directory: runDirectory.path,
                                                    reason: "its checkpoint holds generators only, no training state")
            }
            if let change = try options.resumeConflict(withOptionsIn: runDirectory.appendingPathComponent("options.json")) {
                throw TrainingError.incompatibleRun(directory: runDirectory.path, reason: change)
            }
            model = loaded.model
            progress = loaded.progress ?? TrainingProgress(planGeneratorState: RandomGenerator(seed: options.seed).state,
                                                           totalEpochs: options.epochs, decayEpochs: decayEpochs)
            progress.totalEpochs = options.epochs
            progress.decayEpochs = decayEpochs
            let (trained, now) = (progress.replicas ?? 1, replicas?.size ?? 1)
            guard trained == now else {
                throw TrainingError.incompatibleRun(
                    directory: runDirectory.path,
                    reason: "it was trained with \(trained) replica(s) (MPI ranks) × batch \(options.batchSize), a global batch "
                        + "of \(trained * options.batchSize) images; this launch has \(now), which would change the global batch "
                        + "and each replica's place in the epoch: relaunch it with \(trained) rank(s)")
            }
            note("resuming \(runDirectory.path) at epoch \(progress.epoch), step \(progress.globalStep)")
        } else {
            model = makeModel(configuration, seed: options.seed)
            var planSeed = RandomGenerator(seed: options.seed ^ 0x5EED_DA7A)
            progress = TrainingProgress(planGeneratorState: planSeed.split().state, totalEpochs: options.epochs,
                                        decayEpochs: decayEpochs)
            if let replicas, replicas.size > 1 {
                progress.replicas = replicas.size
                progress.replicaItemsConsumed = Array(repeating: 0, count: replicas.size)
            }
        }
        if isWriter {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(options), to: runDirectory.appendingPathComponent("options.json"))
        }
        if let replicas {
            (model, progress) = try startReplicas(replicas, model: model, progress: progress, dataset: dataset)
        }

        let preprocessing = Preprocessing(
            mode: options.preprocessing, size: options.size, filter: model.resizeFilter,
            horizontalFlip: true, verticalFlip: options.verticalFlip, channels: configuration.channels)
        try preprocessing.validate()
        let state = RunState(
            model: model, progress: progress, dataset: dataset,
            schedule: options.stepDecay == nil ? model.schedule(epochs: options.epochs, decayEpochs: decayEpochs) : .constant,
            stepDecay: options.stepDecay,
            preprocessing: preprocessing, probes: try probes(dataset: dataset),
            log: isWriter ? try TrainingLog(url: runDirectory.appendingPathComponent("log.jsonl"),
                                            keepingStepsThrough: progress.globalStep) : nil)
        if options.evaluateEvery != nil, isWriter {
            let heldOut = try HeldOutEvaluation(dataRoot: URL(fileURLWithPath: options.dataRoot), size: options.size,
                                                channels: configuration.channels)
            heldOut.distributionScorer = distributionScorer
            state.evaluation = BestCheckpointKeeper(evaluation: heldOut, runDirectory: runDirectory, note: note)
        }
        return state
    }

    // MARK: - Plan

    /// The current epoch's plan (drawn from the saved plan-stream state, under the recipe's
    /// epoch policy) and its loader, advanced past the items already consumed.
    func plan(_ state: RunState) -> EpochRun {
        state.model.setLearningRateFactor(state.schedule.factor(epoch: state.progress.epoch))
        var planGenerator = RandomGenerator(seed: 0)
        planGenerator.state = state.progress.planGeneratorState
        let plan = state.dataset.epochPlan(policy: state.model.epochPolicy, using: &planGenerator)
        let loader = UnpairedLoader(
            dataset: state.dataset, plan: replicas.map { replicaShare(of: plan, $0) } ?? plan,
            preprocessing: state.preprocessing, batchSize: options.batchSize, workers: options.decodeWorkers)
        loader.skip(replicas.map { state.progress.replicaItemsConsumed?[$0.rank] ?? 0 } ?? state.progress.itemsConsumed)
        return EpochRun(planCount: plan.count, loader: loader, planGeneratorAfter: planGenerator)
    }

    // MARK: - Step

    /// One optimisation step; a non-finite loss or gradient becomes `TrainingError.nonFinite`
    /// naming the step and images (the recipe checks before changing any weight).
    func step(_ batch: UnpairedBatch, _ state: RunState, _ epoch: inout EpochRun) throws -> StepReport {
        if state.stepDecay != nil {
            state.model.setLearningRateFactor(state.learningRateFactor(step: state.progress.globalStep + 1))
        }
        let report: StepReport
        do {
            report = try state.model.trainStep(realA: batch.realA, realB: batch.realB)
        } catch let error as TrainingStepError {
            throw TrainingError.nonFinite(error, progress: state.progress, inputs: (batch.urlsA + batch.urlsB).map(\.lastPathComponent),
                                          checkpoint: latestCheckpoint)
        }
        state.progress.globalStep += 1
        epoch.steps += 1
        guard let replicas else {
            state.progress.itemsConsumed = epoch.loader.itemsConsumed
            return report
        }
        return try replicatedStepEnd(report, replicas, state)
    }

    // MARK: - Report

    /// Logs the declared values, updates the progress line and writes a sample grid when due.
    func report(_ report: StepReport, _ state: RunState, _ epoch: EpochRun) throws {
        guard isWriter, let log = state.log else { return }
        let declaration = state.model.declaration
        let progress = state.progress
        let values = declaration.loggedNames.compactMap { name in
            (report[loss: name] ?? report[diagnostic: name]).map { (name: name, value: $0) }
        }
        try log.append(step: progress.globalStep, epoch: progress.epoch, values: values,
                             learningRate: state.learningRate)
        let pace = self.pace(state)
        let e = pace.estimate(itemsDone: progress.itemsConsumed, epochItems: epoch.planCount,
                              imagesThisSession: epoch.steps * pace.batchSize, epochStart: epoch.start,
                              epoch: progress.epoch, globalStep: progress.globalStep)
        display.update(
            progressLine(progress: progress, fraction: Double(progress.itemsConsumed) / Double(max(epoch.planCount, 1)),
                         planCount: epoch.planCount, rate: e.rate, etaEpoch: e.epochSeconds, etaRun: e.runSeconds,
                         runEnd: e.runEnd, report: report, declaration: declaration),
            step: progress.globalStep)
        if options.sampleEvery > 0 && progress.globalStep % options.sampleEvery == 0 {
            try writeSamples(state, name: String(format: "epoch%03d_step%07d.png", progress.epoch, progress.globalStep))
        }
        if let evaluation = state.evaluation, options.evaluateEvery?.isDue(afterStep: progress.globalStep) == true {
            note(try evaluation.evaluate(state.model, progress: progress, log: log))
        }
    }

    /// Why the run stops after this step, if it does: Ctrl-C, `--max-steps` or `--time-limit`.
    func stopReason(_ state: RunState) throws -> TrainingSummary.Ending? {
        let local = localStopReason(state)
        guard let replicas else { return local }
        return try agreedStopReason(local, replicas)
    }

    /// This process's reason to stop after the step, before the replicas agree.
    func localStopReason(_ state: RunState) -> TrainingSummary.Ending? {
        pace(state).stopReason(globalStep: state.progress.globalStep)
    }

    /// Limits and clock of the run (`RunPace`, shared with `SingleGANTrainer`); a step is every
    /// replica's batch.
    func pace(_ state: RunState) -> RunPace {
        RunPace(epochs: options.epochs, maxSteps: options.maxSteps, timeLimit: options.timeLimit,
                batchSize: options.batchSize * (replicas?.size ?? 1), runStart: state.startTime)
    }

    /// Advances the progress to the next epoch, saves the checkpoint (and a snapshot when due),
    /// writes the epoch's sample grid and prints the epoch's mean losses.
    func endEpoch(_ state: RunState, _ epoch: EpochRun) throws {
        state.progress.epoch += 1
        state.progress.itemsConsumed = 0
        state.progress.planGeneratorState = epoch.planGeneratorAfter.state
        if let replicas {
            state.progress.replicaItemsConsumed = Array(repeating: 0, count: replicas.size)
            try verifyReplicas(state, replicas)
        }
        let finished = state.progress.epoch - 1
        guard isWriter, let log = state.log else { return }
        // The epoch's grid and snapshot before `latest`: a kill before `latest` moves on
        // resumes inside this epoch and writes them again.
        try writeSamples(state, name: String(format: "epoch%03d.png", finished))
        if options.snapshotEvery > 0 && finished % options.snapshotEvery == 0 {
            try Checkpoint.save(state.model, progress: state.progress,
                                to: options.runDirectory.appendingPathComponent(String(format: "epoch%03d.safetensors", finished)))
        }
        try Checkpoint.save(state.model, progress: state.progress, to: latestCheckpoint)
        if let evaluation = state.evaluation, options.evaluateEvery?.isDue(afterEpoch: finished) == true {
            note(try evaluation.evaluate(state.model, progress: state.progress, log: log))
        }
        let summary = epochSummary(finished, state, log)
        note(summary + (epoch.loader.skippedFiles.summary.isEmpty ? "" : "; " + epoch.loader.skippedFiles.summary))
    }

    func finish(_ ending: TrainingSummary.Ending, _ state: RunState) throws -> TrainingSummary {
        if let replicas { try verifyReplicas(state, replicas) }
        if isWriter { try Checkpoint.save(state.model, progress: state.progress, to: latestCheckpoint) }
        note(pace(state).endNote(ending, progress: state.progress, checkpoint: latestCheckpoint))
        return TrainingSummary(ending: ending, progress: state.progress, checkpoint: latestCheckpoint, runDirectory: options.runDirectory)
    }

    /// One progress line: the declared progress losses and λ values; `runEnd` names what ends the
    /// run ("run", "time limit" or "step limit").
    func progressLine(progress: TrainingProgress, fraction: Double, planCount: Int, rate: Double, etaEpoch: Double,
                      etaRun: Double, runEnd: String = "run", report: StepReport, declaration: StepDeclaration) -> String {
        let losses = declaration.progressLosses.compactMap { name in
            report[loss: name].map { "\(name) \(String(format: "%.3f", $0))" }
        }
        let lambdas = declaration.lambdas.compactMap { lambda in
            report[diagnostic: lambda.name].map { "\(lambda.label) \(String(format: "%.2f", $0))" }
        }
        return "epoch \(progress.epoch)/\(options.epochs) \(ProgressDisplay.bar(fraction)) \(progress.itemsConsumed)/\(planCount) "
            + String(format: "%.1f img/s", rate) + " ETA \(ProgressDisplay.duration(etaEpoch)) (\(runEnd) \(ProgressDisplay.duration(etaRun))) | "
            + losses.joined(separator: " ") + (lambdas.isEmpty ? "" : " | λ " + lambdas.joined(separator: " "))
    }

    /// "epoch N done: " and the epoch's means of the declared summary values.
    func epochSummary(_ epoch: Int, _ state: RunState, _ log: TrainingLog) -> String {
        let means = log.epochMeans(epoch, of: state.model.declaration.summaryNames)
        return "epoch \(epoch) done: " + means.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
    }

    func writeSamples(_ state: RunState, name: String) throws {
        let samples = options.runDirectory.appendingPathComponent("samples")
        try SampleGrid.write(model: state.model, probesA: state.probesA, probesB: state.probesB,
                             to: samples.appendingPathComponent(name))
        if let explaining = state.model as? any ProbeExplaining {
            try SampleGrid.writeExplanations(explaining, probesA: state.probesA, probesB: state.probesB,
                                             to: samples.appendingPathComponent("explain").appendingPathComponent(name))
        }
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
