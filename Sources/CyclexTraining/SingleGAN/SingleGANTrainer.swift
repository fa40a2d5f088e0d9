import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexModels
import CyclexNN
import Foundation

/// Trains a single GAN (xAI-GAN or LogicGAN rule, dense or DCGAN networks) on a `GANImageSet`,
/// resumably, with the CycleGAN trainer's conventions: `latest.safetensors` written atomically
/// at every epoch end, at a step or time limit and on interruption; re-running the same command
/// continues bit for bit; `log.jsonl` gets every loss per step; a non-finite loss or gradient
/// stops the run before any weight changes, keeping the last checkpoint.
public final class SingleGANTrainer {
    public let options: SingleGANOptions
    public let display: ProgressDisplay
    public var note: (String) -> Void
    /// The names a single-GAN step reports: logged every step (with `explained`, 1 when the
    /// explanation rule acted, and `rejected_fraction`, the share of fakes D rejected, when it did).
    public static let declaration = StepDeclaration(
        losses: ["D_real", "D_fake", "D", "G"], progressLosses: ["D", "G"],
        loggedDiagnostics: ["total_norm", "clip_coef"], sampleRows: [])

    /// Probe noise for sample grids: 64 images, fixed by the seed.
    public let probeCount = 64

    public init(options: SingleGANOptions, display: ProgressDisplay = ProgressDisplay()) {
        self.options = options
        self.display = display
        note = { display.message($0) }
    }

    public var latestCheckpoint: URL { options.runDirectory.appendingPathComponent("latest.safetensors") }

    /// The training images the options select: IDX (1 channel) or an image folder (3 channels),
    /// filtered by class, then the seeded fraction.
    public func loadData() throws -> GANImageSet {
        let root = URL(fileURLWithPath: options.dataRoot)
        let channels = GANImageSet.isIDXFolder(root) ? 1 : 3
        var data = try GANImageSet.load(from: root, channels: channels, side: 32, split: options.split)
        data.notes.forEach(note)
        if !options.classes.isEmpty {
            let wanted = try data.classIndices(options.classes)
            data = data.selecting(classes: wanted)
            guard data.count > 0 else {
                throw ImageError.invalidOption("--classes \(options.classes.joined(separator: ",")): no images of these classes in \(root.path)")
            }
        }
        data = data.subset(fraction: options.fraction, seed: options.seed ^ 0xF4AC_7104)
        note("training on \(data.count) images (\(data.channels)×\(data.side)×\(data.side))")
        return data
    }

    /// The LeNet-5 and the real test images (the training classes, at most `evaluationCount`)
    /// when `evaluationClassifier` is set; errors name the file or the flag.
    func evaluationSetup() throws -> (LeNet5, Tensor)? {
        guard let path = options.evaluationClassifier else { return nil }
        let root = URL(fileURLWithPath: options.dataRoot)
        guard GANImageSet.isIDXFolder(root) else {
            throw ImageError.invalidOption("--eval-classifier: LeNet-5 scores need an IDX folder (MNIST naming); \(root.path) is an image folder")
        }
        let classifier = try LeNetClassifier.load(URL(fileURLWithPath: path))
        var test = try GANImageSet.load(from: root, channels: 1, split: .test)
        if !options.classes.isEmpty { test = test.selecting(classes: try test.classIndices(options.classes)) }
        guard test.count >= 2 else { throw ImageError.invalidOption("--eval-classifier: the test split of \(root.path) has \(test.count) images of these classes") }
        return (classifier, test.batch(Array(0..<min(options.evaluationCount, test.count))))
    }

    /// User + system CPU seconds of this process so far: epoch CPU times are comparable on a
    /// loaded machine, where wall time is not.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// What a run carries from step to step (the single-GAN counterpart of `Trainer.RunState`).
    final class RunState {
        let model: SingleGANModel
        var state: SingleGANState
        let configuration: SingleGANConfiguration
        let data: GANImageSet
        /// Noise of the sample grids, fixed by the seed.
        let probes: Tensor
        let log: TrainingLog
        /// The LeNet-5 and real test images of `--eval-classifier`.
        let evaluation: (classifier: LeNet5, reals: Tensor)?
        let pace: RunPace

        var progress: TrainingProgress {
            get { state.progress }
            set { state.progress = newValue }
        }

        init(model: SingleGANModel, state: SingleGANState, configuration: SingleGANConfiguration, data: GANImageSet,
             probes: Tensor, log: TrainingLog, evaluation: (classifier: LeNet5, reals: Tensor)?, pace: RunPace) {
            self.model = model; self.state = state; self.configuration = configuration; self.data = data
            self.probes = probes; self.log = log; self.evaluation = evaluation; self.pace = pace
        }
    }

    /// One epoch in progress: its order of the images, whether the explanation rule acts, timing.
    struct EpochRun {
        let order: [Int]
        /// The plan stream after drawing this epoch's order (saved at the epoch's end).
        let planGeneratorAfter: RandomGenerator
        let explain: Bool
        let start = Date(), cpuStart = SingleGANTrainer.processCPUSeconds()
        var images = 0
    }

    /// Runs or resumes; `restart` ignores an existing checkpoint. Data and settings are checked
    /// before the run folder is touched, so a bad folder or flag leaves nothing behind; the folder
    /// is locked for the run and removed again when this session created it and fails before its
    /// first checkpoint (see `RunDirectory`).
    public func run(restart: Bool = false) throws -> TrainingSummary {
        let data = try loadData()
        let configuration = options.configuration(channels: data.channels)
        if let problem = configuration.problem { throw ImageError.invalidOption(problem) }
        if configuration.shapPrecision == .bf16 && !ExplanationPrecision.bf16Available {
            throw ImageError.invalidOption("--shap-precision bf16: needs a CPU with AVX512_BF16 (and AVX512F/BW/VL); use f32 (the default)")
        }
        let evaluation = try evaluationSetup()
        let run = try RunDirectory(output: URL(fileURLWithPath: options.output), name: options.runName)
        if !run.removedLeftovers.isEmpty {
            note("removed \(run.removedLeftovers.count) temporary file(s) of interrupted writes: "
                 + run.removedLeftovers.joined(separator: ", "))
        }
        do {
            let state = try resume(restart: restart, data: data, configuration: configuration,
                                   evaluation: evaluation.map { (classifier: $0.0, reals: $0.1) })
            return try train(state)
        } catch {
            run.discardIfUnused()
            throw error
        }
    }

    private func train(_ state: RunState) throws -> TrainingSummary {
        while state.progress.epoch <= options.epochs {
            var epoch = plan(state)
            while state.progress.itemsConsumed < epoch.order.count {
                let report = try step(state, &epoch)
                try self.report(report, state, epoch)
                if let ending = state.pace.stopReason(globalStep: state.progress.globalStep) { return try finish(ending, state) }
            }
            try endEpoch(state, epoch)
        }
        return try finish(.completed, state)
    }

    // MARK: - Resume

    /// The model and its streams: from `latest.safetensors` when it exists (and `restart` is
    /// false; the run must have the same model, data selection and seed), else fresh from the seed;
    /// plus the probes and the log.
    func resume(restart: Bool, data: GANImageSet, configuration: SingleGANConfiguration,
                evaluation: (classifier: LeNet5, reals: Tensor)?) throws -> RunState {
        let runDirectory = options.runDirectory
        let model: SingleGANModel
        var state: SingleGANState
        if !restart, FileManager.default.fileExists(atPath: latestCheckpoint.path) {
            let loaded = try SingleGANCheckpoint.load(latestCheckpoint)
            guard loaded.configuration == configuration, let saved = loaded.options, saved.sameRun(as: options),
                  let savedState = loaded.state else {
                throw TrainingError.incompatibleRun(directory: runDirectory.path,
                                                    reason: "model, data selection or seed differ, or no training state")
            }
            model = loaded.model
            state = savedState
            state.progress.totalEpochs = options.epochs
            note("resuming \(runDirectory.path) at epoch \(state.progress.epoch), step \(state.progress.globalStep)")
        } else {
            model = configuration.makeModel(seed: options.seed)
            var streams = RandomGenerator(seed: options.seed ^ 0x5EED_DA7A)
            let plan = streams.split(), noise = streams.split()
            state = SingleGANState(noise: noise, progress: TrainingProgress(planGeneratorState: plan.state,
                                                                            totalEpochs: options.epochs, decayEpochs: 0))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(options), to: runDirectory.appendingPathComponent("options.json"))

        var probeStream = RandomGenerator(seed: options.seed ^ 0x9E0B_E5)
        let probes = configuration.noise(count: probeCount, using: &probeStream)
        let log = try TrainingLog(url: runDirectory.appendingPathComponent("log.jsonl"), keepingStepsThrough: state.progress.globalStep)
        let pace = RunPace(epochs: options.epochs, maxSteps: options.maxSteps, timeLimit: options.timeLimit,
                           batchSize: min(options.batchSize, data.count))
        return RunState(model: model, state: state, configuration: configuration, data: data, probes: probes, log: log,
                        evaluation: evaluation, pace: pace)
    }

    // MARK: - Plan

    /// The current epoch's order of the images, drawn from the saved plan-stream state (a
    /// Fisher–Yates shuffle), and whether the explanation rule acts in it.
    func plan(_ state: RunState) -> EpochRun {
        var planStream = RandomGenerator(seed: 0)
        planStream.state = state.progress.planGeneratorState
        var order = Array(0..<state.data.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, planStream.nextInt(below: i + 1)) }
        return EpochRun(order: order, planGeneratorAfter: planStream,
                        explain: state.configuration.explains(epoch: state.progress.epoch, of: options.epochs))
    }

    // MARK: - Step

    /// One D and one G step on the next batch of the epoch's order, with fresh noise; a
    /// non-finite loss or gradient becomes `TrainingError.nonFinite` naming the step and images.
    func step(_ state: RunState, _ epoch: inout EpochRun) throws -> StepReport {
        let start = state.progress.itemsConsumed
        let indices = Array(epoch.order[start..<min(epoch.order.count, start + state.pace.batchSize)])
        let real = state.data.batch(indices)
        if state.configuration.explainer == .shap && state.model.shapBaselines == nil {
            state.model.shapBaselines = real.copy()  // the first real batch, fixed for the run
        }
        let noiseD = state.configuration.noise(count: indices.count, using: &state.state.noise)
        let noiseG = state.configuration.noise(count: indices.count, using: &state.state.noise)
        let report: StepReport
        do {
            report = try state.model.trainStep(real: real, noiseForD: noiseD, noiseForG: noiseG, explain: epoch.explain)
        } catch let error as TrainingStepError {
            let names = "training images \(indices.prefix(8).map(String.init).joined(separator: ", "))\(indices.count > 8 ? ", …" : "")"
            throw TrainingError.nonFinite(error, progress: state.progress, inputs: [names], checkpoint: latestCheckpoint)
        }
        state.progress.globalStep += 1
        state.progress.itemsConsumed += indices.count
        epoch.images += indices.count
        return report
    }

    // MARK: - Report

    /// Logs the step's values (with `explained` and `rejected_fraction`), updates the progress
    /// line and writes a sample grid when due.
    func report(_ report: StepReport, _ state: RunState, _ epoch: EpochRun) throws {
        let progress = state.progress
        var values = Self.declaration.loggedNames.compactMap { name in
            (report.losses + report.diagnostics).first { $0.name == name }
        }
        values.append(("explained", epoch.explain ? 1 : 0))
        let rejected = report.diagnostics.filter { $0.name.hasPrefix("rejected.") }
        if !rejected.isEmpty {
            values.append(("rejected_fraction", Float(rejected.filter { $0.value > 0 }.count) / Float(rejected.count)))
        }
        try state.log.append(step: progress.globalStep, epoch: progress.epoch, values: values,
                             learningRate: state.configuration.learningRate)

        let estimate = state.pace.estimate(itemsDone: progress.itemsConsumed, epochItems: epoch.order.count,
                                           imagesThisSession: epoch.images, epochStart: epoch.start,
                                           epoch: progress.epoch, globalStep: progress.globalStep)
        let losses = report.losses.filter { Self.declaration.progressLosses.contains($0.name) }
            .map { "\($0.name) \(String(format: "%.3f", $0.value))" }.joined(separator: " ")
        display.update(
            state.pace.progressHead(epoch: progress.epoch, itemsDone: progress.itemsConsumed, epochItems: epoch.order.count, estimate)
                + " | " + losses + (epoch.explain ? " | \(state.configuration.explainer.rawValue) on" : ""),
            step: progress.globalStep)
        if options.sampleEvery > 0 && progress.globalStep % options.sampleEvery == 0 {
            try writeSamples(state, name: String(format: "epoch%03d_step%07d.png", progress.epoch, progress.globalStep))
        }
    }

    // MARK: - Epoch end

    /// Advances to the next epoch, saves the checkpoint, writes the epoch's sample grid, scores
    /// the epoch with `--eval-classifier` and prints the epoch's mean losses and times.
    func endEpoch(_ state: RunState, _ epoch: EpochRun) throws {
        state.progress.epoch += 1
        state.progress.itemsConsumed = 0
        state.progress.planGeneratorState = epoch.planGeneratorAfter.state
        let finished = state.progress.epoch - 1
        try save(state)
        try writeSamples(state, name: String(format: "epoch%03d.png", finished))
        if let (classifier, reals) = state.evaluation {
            // Own noise stream and restored BatchNorm statistics: evaluating never changes the run.
            let scores = try SingleGANEvaluation.scores(of: state.model, configuration: state.configuration,
                                                        classifier: classifier, reals: reals,
                                                        count: options.evaluationCount, seed: 0xE7A1)
            try state.log.appendEvaluation(step: state.progress.globalStep, epoch: finished,
                                           scores: [("fid_lenet", scores.fid), ("kid_lenet", scores.kidMean)])
            note("epoch \(finished): " + scores.description)
        }
        let means = state.log.epochMeans(finished, of: Self.declaration.summaryNames)
        note(String(format: "epoch %d done in %.1f s (CPU %.1f s): ", finished, Date().timeIntervalSince(epoch.start),
                    Self.processCPUSeconds() - epoch.cpuStart)
             + means.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
    }

    func finish(_ ending: TrainingSummary.Ending, _ state: RunState) throws -> TrainingSummary {
        try save(state)
        note(state.pace.endNote(ending, progress: state.progress, checkpoint: latestCheckpoint))
        return TrainingSummary(ending: ending, progress: state.progress, checkpoint: latestCheckpoint,
                               runDirectory: options.runDirectory)
    }

    func save(_ state: RunState) throws {
        try SingleGANCheckpoint.save(state.model, configuration: state.configuration, options: options, state: state.state,
                                     to: latestCheckpoint)
    }

    func writeSamples(_ state: RunState, name: String) throws {
        let images = SingleGANSampling.generate(state.model.generator, noise: state.probes)
        try SingleGANSampling.grid(images).write(
            atomicallyTo: options.runDirectory.appendingPathComponent("samples").appendingPathComponent(name), format: .png())
    }
}
