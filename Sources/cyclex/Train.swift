import ArgumentParser
import CyclexDistributed
import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a CycleGAN or xAI-CycleGAN on a folder with trainA/ and trainB/ (testA/ testB/ optional).",
        discussion: """
            Checkpoints, options, a JSON-lines loss log and sample grids go to OUTPUT/NAME/. \
            Re-running the same command resumes exactly where the last run stopped (Ctrl-C saves first).
            """)

    @Argument(help: "Data folder with trainA/ and trainB/.")
    var data: String

    @Option(help: "cyclegan or xai-cyclegan.")
    var model: ModelConfiguration.Kind = .cycleGAN

    @Option(help: "Network size: tiny (tests, simple changes such as the demo's), small (2-core CPU at 64-128 px) or standard (the papers' sizes).")
    var preset: ModelConfiguration.Preset = .small

    @Option(help: "Training image side in pixels (a multiple of 8).")
    var size = 64

    @OptionGroup var common: RunOptions

    @Option(help: "Epochs of linear learning-rate decay at the end (default: half).")
    var decayEpochs: Int?

    @Option(help: ArgumentHelp(
        "Steps of linear learning-rate decay to zero at the end of --max-steps, instead of the epoch decay.",
        discussion: "For runs of a few epochs, e.g. --max-steps 4000 --decay-steps 2000 (the last half)."))
    var decaySteps: Int?

    @Option(help: "Images per step.")
    var batchSize = 1

    @Option(help: "Preprocessing: resize_and_crop, resize, crop or none.")
    var preprocess: Preprocessing.Mode = .resizeAndCrop

    @Option(help: "Keep a numbered checkpoint every N epochs besides latest (0: never).")
    var snapshotEvery = 5

    @Option(help: ArgumentHelp(
        "Score the held-out split (testA/ testB/) every N steps (500) or epochs (2e); keeps best.safetensors.",
        discussion: "KID/FID (when the Inception weights are installed: cyclex evaluate --fetch-weights) and paired L1/PSNR/SSIM against same-named images of the other domain, with the untranslated inputs' scores as baseline; written to log.jsonl."))
    var evalEvery: String?

    @Option(help: "xai-cyclegan: which discriminator losses set lambda (same-domain or crossed, the reference's).")
    var lambdaSource: ModelConfiguration.LambdaSource = .sameDomain

    @Option(help: "xai-cyclegan: lambda ramp exponent gamma.")
    var gamma: Float = 0.5

    @Flag(help: "Also flip vertically at random (xAI-CycleGAN's augmentation).")
    var verticalFlip = false

    @Flag(help: ArgumentHelp(
        "Data-parallel training over MPI: start one cyclex per rank with mpirun or srun (Open MPI).",
        discussion: "Each rank trains on its share of every global batch of ranks x --batch-size images; rank 0 writes the run. See docs/distributed.md."))
    var mpi = false

    func validate() throws {
        let b = FlagBounds.self
        try UsageError.require(size >= 8 && size <= b.maxTrainingSize && size % 8 == 0,
                               "--size \(size): must be a multiple of 8 from 8 to \(b.maxTrainingSize)")
        try UsageError.require((1...b.maxBatchSize).contains(batchSize), "--batch-size \(batchSize): must be 1 to \(b.maxBatchSize)")
        if let decayEpochs {
            try UsageError.require((0...common.epochs).contains(decayEpochs),
                                   "--decay-epochs \(decayEpochs): must be 0 to --epochs (\(common.epochs))")
        }
        if let decaySteps {
            try UsageError.require(common.maxSteps != nil,
                                   "--decay-steps \(decaySteps): needs --max-steps (the decay ends at the last step)")
            let maxSteps = common.maxSteps ?? 0
            try UsageError.require((0...maxSteps).contains(decaySteps), "--decay-steps \(decaySteps): must be 0 to --max-steps (\(maxSteps))")
            try UsageError.require(decayEpochs == nil, "--decay-steps and --decay-epochs: give one of them (both set the decay)")
        }
        try UsageError.require(snapshotEvery >= 0, "--snapshot-every \(snapshotEvery): must be 0 (never) or more")
        if let evalEvery {
            try UsageError.require(EvaluationInterval(evalEvery) != nil,
                                   "--eval-every '\(evalEvery)': use a positive number of steps (500) or epochs (2e)")
        }
        try UsageError.require(gamma.isFinite && gamma > 0 && gamma <= 100, "--gamma \(gamma): must be a number in (0, 100]")
        try UsageError.require(!(mpi && preprocess == .none),
                               "--preprocess none: with --mpi every image must have the training size (the ranks exchange "
                                   + "generated images for the image pools); use resize_and_crop, resize or crop")
        if !mpi, let ranks = launcherRanks, ranks > 1 {
            throw UsageError("started as one of \(ranks) MPI ranks but without --mpi: every rank would train the same run "
                             + "on its own; add --mpi (see docs/distributed.md) or start one process")
        }
        try UsageError.require(!(preprocess == .none && model == .xaiCycleGAN),
                               "--preprocess none: xai-cyclegan needs image sides that are multiples of 8, which 'none' "
                                   + "does not guarantee; use resize_and_crop, resize or crop")
    }

    func run() throws {
        var options = TrainingOptions(dataRoot: data)
        options.model = model; options.preset = preset; options.size = size; options.epochs = common.epochs
        options.decayEpochs = decayEpochs; options.decaySteps = decaySteps; options.batchSize = batchSize; options.seed = common.seed; options.name = common.name
        options.output = common.output; options.preprocessing = preprocess; options.sampleEvery = common.sampleEvery
        options.maxSteps = common.maxSteps; options.timeLimit = common.timeLimitSeconds
        options.lambdaSource = lambdaSource; options.gamma = gamma; options.verticalFlip = verticalFlip
        options.snapshotEvery = snapshotEvery
        options.evaluateEvery = evalEvery.flatMap(EvaluationInterval.init)

        installInterruptHandler()
        let group = mpi ? try reportingErrors { try MPIReplicaGroup() } : nil
        let trainer = Trainer(options: options)
        if let group {
            trainer.replicas = group
            if group.rank != 0 {
                trainer.note = { _ in }
                interruptMessage = nil   // rank 0 says it for the run
            }
        }
        trainer.note("cyclex train (* = not the default):\n" + options.summaryLines.joined(separator: "\n"))
        if options.evaluateEvery != nil, trainer.isWriter {   // only rank 0 scores
            let (kid, problem) = TrainingKID.make()
            if let kid {
                trainer.distributionScorer = { real, translated in try kid.score(real: real, translated: translated) }
            } else {
                trainer.note("--eval-every: paired scores only, no KID/FID (\(problem ?? "no Inception weights"))")
            }
        }
        guard let group else { return try finishTraining { try trainer.run(restart: common.restart) } }
        let summary: TrainingSummary
        do {
            summary = try trainer.run(restart: common.restart)
        } catch {
            // One rank's error ends every rank: the others would wait in a collective forever.
            let prefix = group.rank == 0 ? "Error: " : "Error (rank \(group.rank)): "
            FileHandle.standardError.write(Data((prefix + error.localizedDescription + "\n").utf8))
            group.abort(1)
        }
        trainer.note(group.statisticsLine)
        group.finalize()
        if group.rank == 0 {
            try finishTraining { summary }
        } else if summary.ending == .interrupted {
            throw ExitCode(128 + max(Interruption.signal.load(ordering: .relaxed), SIGINT))
        }
    }

    /// The number of ranks when an MPI launcher (Open MPI's mpirun, or a PMI launcher such as
    /// srun or MPICH's) started this process; nil otherwise.
    var launcherRanks: Int? {
        let environment = ProcessInfo.processInfo.environment
        return (environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"]).flatMap { Int($0) }
    }
}

/// Whether `name` names one entry inside a folder: not empty, no path separator or NUL, not
/// `.` or `..` (so `--name ../../x` cannot leave `--output`).
func isSinglePathComponent(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
}

/// "300" / "300s" / "10m" / "1.5h" → seconds.
func parseDuration(_ text: String) -> Double? {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
    if let last = text.last, let unit = units[last] { return Double(text.dropLast()).map { $0 * unit } }
    return Double(text)
}

/// First Ctrl-C or SIGTERM (a scheduler's stop): finish `work` (training: the step and a
/// checkpoint; translate: the image in hand), then stop with status 128 + signal (130, 143).
/// A second one quits at once with that status.
func installInterruptHandler(finishing work: String = "this step and saving a checkpoint") {
    unblockStopSignals()
    let message = "\ninterrupted: finishing \(work) (Ctrl-C again to quit now)\n"
    // The handler may only call async-signal-safe functions: the message is formatted here, once.
    let bytes = UnsafeMutablePointer<CChar>(mutating: strdup(message))
    interruptMessage = bytes
    for stopSignal in [SIGINT, SIGTERM] {
        signal(stopSignal) { received in
            if Interruption.requested.load(ordering: .relaxed) { _exit(128 + received) }
            Interruption.signal.store(received, ordering: .relaxed)
            Interruption.requested.store(true, ordering: .relaxed)
            if let text = interruptMessage { _ = write(STDERR_FILENO, text, strlen(text)) }
        }
    }
}

/// The line the stop-signal handler prints (set once by `installInterruptHandler`).
nonisolated(unsafe) private var interruptMessage: UnsafeMutablePointer<CChar>?

/// Unblocks SIGINT and SIGTERM for this thread (and the threads it starts later): a parent
/// that spawned cyclex with them blocked (some runtimes and schedulers do) would otherwise leave
/// them pending forever, and a stop request would be lost.
func unblockStopSignals() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

extension ModelConfiguration.Kind: ExpressibleByArgument {}
extension ModelConfiguration.Preset: ExpressibleByArgument {}
extension ModelConfiguration.LambdaSource: ExpressibleByArgument {}
extension Preprocessing.Mode: ExpressibleByArgument {}
