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

    /// Runs or resumes; `restart` ignores an existing checkpoint.
    public func run(restart: Bool = false) throws -> TrainingSummary {
        let runDirectory = options.runDirectory
        // Data and settings first: a bad folder or flag leaves nothing behind.
        let data = try loadData()
        let configuration = options.configuration(channels: data.channels)
        if let problem = configuration.problem { throw ImageError.invalidOption(problem) }
        let evaluation = try evaluationSetup()
        // Locked for the run, leftovers of killed writes removed; a new folder is removed again
        // when the run fails before its first checkpoint (see `RunDirectory`).
        let run = try RunDirectory(output: URL(fileURLWithPath: options.output), name: options.runName)
        if !run.removedLeftovers.isEmpty {
            note("removed \(run.removedLeftovers.count) temporary file(s) of interrupted writes: "
                 + run.removedLeftovers.joined(separator: ", "))
        }
        var finished = false
        defer { if !finished { run.discardIfUnused() } }

        var model: SingleGANModel
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
        let batchSize = min(options.batchSize, data.count)
        let startTime = Date()

        func save() throws {
            try SingleGANCheckpoint.save(model, configuration: configuration, options: options, state: state, to: latestCheckpoint)
        }
        func finish(_ ending: TrainingSummary.Ending) throws -> TrainingSummary {
            try save()
            finished = true
            note("\(ending == .completed ? "finished" : "stopped (\(ending.rawValue))") at epoch \(min(state.progress.epoch, options.epochs)), "
                 + "step \(state.progress.globalStep); checkpoint \(latestCheckpoint.path)")
            return TrainingSummary(ending: ending, progress: state.progress, checkpoint: latestCheckpoint, runDirectory: runDirectory)
        }
        func writeSamples(_ name: String) throws {
            let images = SingleGANSampling.generate(model.generator, noise: probes)
            try SingleGANSampling.grid(images).write(
                atomicallyTo: runDirectory.appendingPathComponent("samples").appendingPathComponent(name), format: .png())
        }

        while state.progress.epoch <= options.epochs {
            var planStream = RandomGenerator(seed: 0)
            planStream.state = state.progress.planGeneratorState
            var plan = Array(0..<data.count)
            for i in stride(from: plan.count - 1, to: 0, by: -1) { plan.swapAt(i, planStream.nextInt(below: i + 1)) }
            let explain = configuration.explains(epoch: state.progress.epoch, of: options.epochs)
            let epochStart = Date(), epochCPUStart = Self.processCPUSeconds()
            var epochImages = 0
            while state.progress.itemsConsumed < plan.count {
                let start = state.progress.itemsConsumed
                let indices = Array(plan[start..<min(plan.count, start + batchSize)])
                let real = data.batch(indices)
                if configuration.explainer == .shap && model.shapBaselines == nil {
                    model.shapBaselines = real.copy()  // the first real batch, fixed for the run
                }
                let noiseD = configuration.noise(count: indices.count, using: &state.noise)
                let noiseG = configuration.noise(count: indices.count, using: &state.noise)
                let report: StepReport
                do {
                    report = try model.trainStep(real: real, noiseForD: noiseD, noiseForG: noiseG, explain: explain)
                } catch let error as TrainingStepError {
                    throw TrainingError.nonFinite(
                        step: state.progress.globalStep + 1, epoch: state.progress.epoch,
                        files: ["training images \(indices.prefix(8).map(String.init).joined(separator: ", "))\(indices.count > 8 ? ", …" : "")"],
                        detail: error.localizedDescription,
                        checkpoint: FileManager.default.fileExists(atPath: latestCheckpoint.path) ? latestCheckpoint.path : "(none yet)")
                }
                state.progress.globalStep += 1
                state.progress.itemsConsumed += indices.count
                epochImages += indices.count
                var values = Self.declaration.loggedNames.compactMap { name in
                    (report.losses + report.diagnostics).first { $0.name == name }
                }
                values.append(("explained", explain ? 1 : 0))
                let rejected = report.diagnostics.filter { $0.name.hasPrefix("rejected.") }
                if !rejected.isEmpty {
                    values.append(("rejected_fraction", Float(rejected.filter { $0.value > 0 }.count) / Float(rejected.count)))
                }
                try log.append(step: state.progress.globalStep, epoch: state.progress.epoch, values: values,
                               learningRate: configuration.learningRate)

                let elapsed = Date().timeIntervalSince(epochStart)
                let rate = Double(epochImages) / max(elapsed, 1e-9)
                let remainingEpoch = Double(plan.count - state.progress.itemsConsumed) / max(rate, 1e-9)
                var remainingRun = remainingEpoch + Double((options.epochs - state.progress.epoch) * plan.count) / max(rate, 1e-9)
                var runEnd = "run"
                if let maxSteps = options.maxSteps {
                    let untilLimit = Double(maxSteps - state.progress.globalStep) * Double(batchSize) / max(rate, 1e-9)
                    if untilLimit < remainingRun { (remainingRun, runEnd) = (untilLimit, "step limit") }
                }
                if let limit = options.timeLimit {
                    let untilLimit = max(0, limit - Date().timeIntervalSince(startTime))
                    if untilLimit < remainingRun { (remainingRun, runEnd) = (untilLimit, "time limit") }
                }
                let losses = report.losses.filter { Self.declaration.progressLosses.contains($0.name) }
                    .map { "\($0.name) \(String(format: "%.3f", $0.value))" }.joined(separator: " ")
                display.update(
                    "epoch \(state.progress.epoch)/\(options.epochs) \(ProgressDisplay.bar(Double(state.progress.itemsConsumed) / Double(plan.count))) "
                        + "\(state.progress.itemsConsumed)/\(plan.count) " + String(format: "%.1f img/s", rate)
                        + " ETA \(ProgressDisplay.duration(remainingEpoch)) (\(runEnd) \(ProgressDisplay.duration(remainingRun))) | "
                        + losses + (explain ? " | \(configuration.explainer.rawValue) on" : ""),
                    step: state.progress.globalStep)
                if options.sampleEvery > 0 && state.progress.globalStep % options.sampleEvery == 0 {
                    try writeSamples(String(format: "epoch%03d_step%07d.png", state.progress.epoch, state.progress.globalStep))
                }
                if Interruption.requested.load(ordering: .relaxed) { return try finish(.interrupted) }
                if let maxSteps = options.maxSteps, state.progress.globalStep >= maxSteps { return try finish(.stepLimit) }
                if let limit = options.timeLimit, Date().timeIntervalSince(startTime) >= limit { return try finish(.timeLimit) }
            }
            state.progress.epoch += 1
            state.progress.itemsConsumed = 0
            state.progress.planGeneratorState = planStream.state
            try save()
            try writeSamples(String(format: "epoch%03d.png", state.progress.epoch - 1))
            if let (classifier, reals) = evaluation {
                // Own noise stream and restored BatchNorm statistics: evaluating never changes the run.
                let scores = try SingleGANEvaluation.scores(of: model, configuration: configuration, classifier: classifier,
                                                            reals: reals, count: options.evaluationCount, seed: 0xE7A1)
                try log.appendEvaluation(step: state.progress.globalStep, epoch: state.progress.epoch - 1,
                                     scores: [("fid_lenet", scores.fid), ("kid_lenet", scores.kidMean)])
                note("epoch \(state.progress.epoch - 1): " + scores.description)
            }
            let means = log.epochMeans(state.progress.epoch - 1, of: Self.declaration.summaryNames)
            note(String(format: "epoch %d done in %.1f s (CPU %.1f s): ", state.progress.epoch - 1, Date().timeIntervalSince(epochStart),
                        Self.processCPUSeconds() - epochCPUStart)
                 + means.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
        }
        return try finish(.completed)
    }
}
