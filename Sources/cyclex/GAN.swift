import ArgumentParser
import CyclexEngine
import CyclexImaging
import CyclexModels
import CyclexTraining
import Foundation

/// `cyclex gan …`: single GANs (xAI-GAN and LogicGAN) on MNIST-like IDX folders or image folders.
struct GAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan",
        abstract: "Single GANs with explanation-guided generator gradients (xAI-GAN, LogicGAN).",
        subcommands: [GANTrain.self, GANSample.self, GANTrainClassifier.self, GANEvaluate.self])
}

struct GANTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a dense or DCGAN single GAN on a folder of IDX files (MNIST naming) or of images.",
        discussion: """
            Checkpoints, options, a JSON-lines loss log and sample grids go to OUTPUT/NAME/. \
            Re-running the same command resumes exactly where the last run stopped (Ctrl-C saves first).
            """)

    @Argument(help: "IDX folder (train-images-idx3-ubyte[.gz], ...) or image folder (class sub-folders optional).")
    var data: String

    @Option(help: "dense or dcgan.")
    var model: SingleGANConfiguration.Network = .dense

    @Option(help: "none, saliency, shap or lime (shap on dcgan explains with BatchNorm in evaluation mode, and is slow); constant: a control for --rule xaigan, the same attribution everywhere (docs/explanations.md#constant-attribution-control).")
    var explainer: SingleGANConfiguration.Explainer = .none

    @Option(help: "xaigan (g + 0.2·g⊙M, second half of the epochs) or logicgan (g ⊙ |M|, every epoch).")
    var rule: SingleGANConfiguration.Rule = .xaigan

    @Option(help: "Share of the images to train on (a seeded subset), e.g. 0.35.")
    var fraction = 1.0

    @Option(help: "Train on these classes only (comma-separated names or indices), e.g. 7.")
    var classes: String?

    @Option(help: "IDX folders: train, test or all (train followed by test).")
    var split: GANImageSet.Split = .train

    @OptionGroup var common: RunOptions

    @Option(help: "Images per step.")
    var batchSize = 64

    @Option(help: "LIME: perturbed samples per explained image.")
    var limeSamples = 64

    @Option(help: "LIME: side of the square patches in pixels.")
    var limePatch = 4

    @Option(help: "DeepSHAP on the dense D: f32, or bf16 (its pair backward's products in bfloat16 on AVX512_BF16 CPUs, about 1.5× faster; docs/explanations.md#deepshap-precision).")
    var shapPrecision: ExplanationPrecision = .f32

    @Option(help: "DeepSHAP: explain against the first N images of the background batch only (default: all of it, the exact method; fewer is an approximation, docs/explanations.md#deepshap-baselines).")
    var shapBaselines: Int?

    @Option(help: "LeNet-5 file (`cyclex gan train-classifier`): FID/KID on its features at every epoch end, into the log.")
    var evalClassifier: String?

    @Option(help: "With --eval-classifier: generated images per evaluation.")
    var evalCount = 2000

    func validate() throws {
        let b = FlagBounds.self
        try UsageError.require((2...100_000).contains(evalCount), "--eval-count \(evalCount): must be 2 to 100000")
        try UsageError.require(fraction.isFinite && fraction > 0 && fraction <= 1, "--fraction \(fraction): must be in (0, 1]")
        try UsageError.require((1...b.maxBatchSize).contains(batchSize), "--batch-size \(batchSize): must be 1 to \(b.maxBatchSize)")
        try UsageError.require((2...10_000).contains(limeSamples), "--lime-samples \(limeSamples): must be 2 to 10000")
        try UsageError.require((1...32).contains(limePatch), "--lime-patch \(limePatch): must be 1 to 32")
        if let shapBaselines {
            try UsageError.require((1...batchSize).contains(shapBaselines),
                                   "--shap-baselines \(shapBaselines): must be 1 to the batch size (\(batchSize))")
            try UsageError.require(explainer == .shap, "--shap-baselines: applies to --explainer shap only")
        }
        try UsageError.require(explainer != .constant || rule == .xaigan,
                               "--explainer constant: a control for --rule xaigan only")
        if let classes {
            try UsageError.require(!parsedClasses(classes).isEmpty, "--classes '\(classes)': name at least one class")
        }
    }

    func parsedClasses(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        var options = SingleGANOptions(dataRoot: data)
        options.network = model; options.explainer = explainer; options.rule = rule; options.fraction = fraction
        options.classes = classes.map(parsedClasses) ?? []; options.split = split; options.epochs = common.epochs
        options.batchSize = batchSize; options.seed = common.seed; options.name = common.name; options.output = common.output
        options.sampleEvery = common.sampleEvery; options.maxSteps = common.maxSteps; options.timeLimit = common.timeLimitSeconds
        options.limeSamples = limeSamples; options.limePatchSize = limePatch
        options.shapPrecision = shapPrecision == .f32 ? nil : shapPrecision
        options.shapBaselines = shapBaselines
        options.evaluationClassifier = evalClassifier; options.evaluationCount = evalCount

        installInterruptHandler()
        let trainer = SingleGANTrainer(options: options)
        trainer.note("cyclex gan train:\n" + options.summaryLines.joined(separator: "\n"))
        try finishTraining { try trainer.run(restart: common.restart) }
    }
}

struct GANSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Generate images from a single-GAN checkpoint: a grid, or single files with --each.")

    @Argument(help: "A checkpoint written by `cyclex gan train` (or its run folder).")
    var checkpoint: String

    @Argument(help: "The grid image to write (PNG or JPEG by extension); optional with --each.")
    var output: String?

    @Option(help: "Number of images.")
    var count = 64

    @Option(help: "Noise seed.")
    var seed: UInt64 = 0

    @Option(help: "Also (or only) write every image as its own PNG into this folder.")
    var each: String?

    func validate() throws {
        try UsageError.require((1...100_000).contains(count), "--count \(count): must be 1 to 100000")
        try UsageError.require(output != nil || each != nil, "give an output image, --each DIR, or both")
        if let output {
            try UsageError.require(ImageFileFormat(pathExtension: URL(fileURLWithPath: output).pathExtension) != nil,
                                   "\(output): the output must end in .png, .jpg or .jpeg")
            try UsageError.require(count <= 4096, "--count \(count): a grid holds at most 4096 images (use --each for more)")
        }
    }

    func run() throws {
        try reportingErrors {
            var url = URL(fileURLWithPath: checkpoint)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
                url = url.appendingPathComponent("latest.safetensors")
            }
            let loaded = try SingleGANCheckpoint.load(url)
            var g = RandomGenerator(seed: seed)
            let chunk = 256
            var images: [Tensor] = []
            var written = 0
            if let each { try FileManager.default.createDirectory(atPath: each, withIntermediateDirectories: true) }
            for start in stride(from: 0, to: count, by: chunk) {
                let n = min(chunk, count - start)
                let batch = SingleGANSampling.generate(loaded.model.generator, noise: loaded.configuration.noise(count: n, using: &g))
                if let each {
                    for i in 0..<n {
                        let file = URL(fileURLWithPath: each).appendingPathComponent(String(format: "%06d.png", start + i))
                        try SingleGANSampling.image(batch, at: i).write(atomicallyTo: file, format: .png())
                        written += 1
                    }
                }
                if output != nil { images.append(batch) }
            }
            if let output {
                let all = withoutGradient { Tensor.concatenate(images, alongAxis: 0) }
                let format = ImageFileFormat(pathExtension: URL(fileURLWithPath: output).pathExtension)!
                try SingleGANSampling.grid(all).write(atomicallyTo: URL(fileURLWithPath: output), format: format)
                print("wrote a grid of \(count) images to \(output)")
            }
            if let each { print("wrote \(written) images to \(each)") }
        }
    }
}

extension SingleGANConfiguration.Network: ExpressibleByArgument {}
extension SingleGANConfiguration.Explainer: ExpressibleByArgument {}
extension SingleGANConfiguration.Rule: ExpressibleByArgument {}
extension GANImageSet.Split: ExpressibleByArgument {}
extension ExplanationPrecision: ExpressibleByArgument {}

struct GANTrainClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-classifier",
        abstract: "Train the LeNet-5 whose features score MNIST-like samples (FID/KID), on an IDX folder's training split.")

    @Argument(help: "IDX folder (MNIST naming) with train and t10k files.")
    var data: String

    @Option(name: [.short, .long], help: "The safetensors file to write.")
    var output = "lenet5.safetensors"

    @Option(help: "Passes over the training split.")
    var epochs = 3

    @Option(help: "Random seed (weights and order).")
    var seed: UInt64 = 0

    func validate() throws {
        try UsageError.require((1...1000).contains(epochs), "--epochs \(epochs): must be 1 to 1000")
        try UsageError.require(!output.isEmpty, "--output: must not be empty")
    }

    func run() throws {
        try reportingErrors {
            let root = URL(fileURLWithPath: data)
            guard GANImageSet.isIDXFolder(root) else {
                throw CLIError("\(data): no IDX files in MNIST naming (train-images-idx3-ubyte[.gz], ...)")
            }
            let train = try GANImageSet.load(from: root, channels: 1, split: .train)
            let test = try GANImageSet.load(from: root, channels: 1, split: .test)
            let network = LeNetClassifier.train(on: train, epochs: epochs, seed: seed) { epoch, loss in
                FileHandle.standardError.write(Data("epoch \(epoch): mean loss \(String(format: "%.4f", loss))\n".utf8))
            }
            let accuracy = LeNetClassifier.accuracy(network, on: test)
            try LeNetClassifier.save(network, accuracy: accuracy, data: root.standardizedFileURL.lastPathComponent,
                                     to: URL(fileURLWithPath: output))
            print(String(format: "test accuracy %.4f (%d images); wrote %@", accuracy, test.count, output))
        }
    }
}

struct GANEvaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "FID and KID of a single-GAN checkpoint's samples against an IDX test split, on LeNet-5 features.")

    @Argument(help: "A checkpoint written by `cyclex gan train` (or its run folder).")
    var checkpoint: String

    @Option(help: "IDX folder whose test split is the reference (default: the run's data).")
    var data: String?

    @Option(help: "LeNet-5 file from `cyclex gan train-classifier`.")
    var classifier = "lenet5.safetensors"

    @Option(help: "Generated images (and at most this many real ones).")
    var count = 10_000

    @Option(help: "Noise and KID subset seed.")
    var seed: UInt64 = 0

    func validate() throws {
        try UsageError.require((2...100_000).contains(count), "--count \(count): must be 2 to 100000")
    }

    func run() throws {
        try reportingErrors {
            var url = URL(fileURLWithPath: checkpoint)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
                url = url.appendingPathComponent("latest.safetensors")
            }
            let loaded = try SingleGANCheckpoint.load(url)
            guard loaded.configuration.channels == 1 else {
                throw CLIError("\(url.path): LeNet-5 features need gray images; this model makes \(loaded.configuration.channels)-channel ones")
            }
            guard let root = data ?? loaded.options?.dataRoot else { throw CLIError("give --data (the checkpoint names no data folder)") }
            var reals = try GANImageSet.load(from: URL(fileURLWithPath: root), channels: 1, split: .test)
            if let classes = loaded.options?.classes, !classes.isEmpty {
                reals = reals.selecting(classes: try reals.classIndices(classes))
            }
            let network = try LeNetClassifier.load(URL(fileURLWithPath: classifier))
            let realCount = min(count, reals.count)
            let scores = try SingleGANEvaluation.scores(
                of: loaded.model, configuration: loaded.configuration, classifier: network,
                reals: reals.batch(Array(0..<realCount)), count: count, seed: seed)
            print(scores.description)
        }
    }
}
