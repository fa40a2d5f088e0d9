import CyclexEngine
import CyclexImaging
import CyclexMetrics
import CyclexModels
import CyclexTraining
import Foundation

/// `cyclex evaluate --checkpoint` on a checkpoint of `cyclex gan train` (header key
/// `cyclex.single-gan`): its samples scored against real images of the run's data.
/// Grey models (MNIST-like) are scored on LeNet-5 features (the classifier file of
/// `cyclex gan train-classifier`) against the IDX test split; colour models on InceptionV3
/// features against the real images of `--data` (an image folder has no test split, so the
/// reference is whatever folder is given, by default the training folder itself).
extension Evaluate {
    static let singleGANDefaultCount = 10_000

    func evaluateSingleGAN(_ url: URL) throws {
        let loaded = try SingleGANCheckpoint.load(url)
        let configuration = loaded.configuration
        guard let root = data ?? loaded.options?.dataRoot else {
            throw CLIError("\(url.path): the checkpoint names no data folder; give --data DIR")
        }
        let count = self.count ?? Self.singleGANDefaultCount
        guard (4...100_000).contains(count) else { throw CLIError("--count \(count): must be 4 to 100000") }
        let classes = loaded.options?.classes ?? []
        let kind = "\(configuration.network.rawValue) GAN, \(configuration.rule.rawValue) rule, explainer \(configuration.explainer.rawValue)"
        if configuration.channels == 1 {
            let network = try leNet(for: url, data: root)
            var reals = try GANImageSet.load(from: URL(fileURLWithPath: root), channels: 1, side: configuration.side, split: .test)
            if !classes.isEmpty { reals = reals.selecting(classes: try reals.classIndices(classes)) }
            let realCount = min(count, reals.count)
            let scores = try SingleGANEvaluation.scores(
                of: loaded.model, configuration: configuration, classifier: network,
                reals: reals.batch(Array(0..<realCount)), count: count, seed: seed)
            print("checkpoint \(url.path): \(kind), \(configuration.side)×\(configuration.side) grey")
            print("reference: the test split of \(root)" + (classes.isEmpty ? "" : " (classes \(classes.joined(separator: ",")))"))
            print(String(format: "  KID %.5f ± %.5f   (×1000: %.2f ± %.2f)", scores.kidMean, scores.kidStd,
                         scores.kidMean * 1000, scores.kidStd * 1000))
            print(String(format: "  FID %.4f", scores.fid))
            print("protocol: LeNet-5 features (84-d) of \(classifier!), \(scores.realCount) real, \(scores.fakeCount) generated, "
                  + "noise seed \(seed); KID over 100 seeded subsets")
            return
        }
        // Colour: Inception features of both sets at the model's resolution.
        var reals = try GANImageSet.load(from: URL(fileURLWithPath: root), channels: configuration.channels, side: configuration.side)
        for note in reals.notes { FileHandle.standardError.write(Data("\(note)\n".utf8)) }
        if !classes.isEmpty { reals = reals.selecting(classes: try reals.classIndices(classes)) }
        let realBatch = reals.batch(Array(0..<min(count, reals.count)))
        let realImages = (0..<realBatch.shape[0]).map { SingleGANSampling.image(realBatch, at: $0) }
        var g = RandomGenerator(seed: seed)
        var fakeImages: [Image] = []
        for start in stride(from: 0, to: count, by: 256) {
            let batch = SingleGANSampling.generate(loaded.model.generator, noise: configuration.noise(count: min(256, count - start), using: &g))
            fakeImages += (0..<batch.shape[0]).map { SingleGANSampling.image(batch, at: $0) }
        }
        let extractor = try makeExtractor()
        let scores = try score(features(of: realImages, label: "real images", extractor),
                               features(of: fakeImages, label: "generated images", extractor))
        print("checkpoint \(url.path): \(kind), \(configuration.side)×\(configuration.side) colour")
        print("reference: \(realImages.count) images of \(root) (an image folder has no test split; pass a held-out folder with --data)")
        printScores(scores, label: "generated (\(fakeImages.count)) vs real (\(realImages.count))")
        printProtocol(scores, extractor)
    }

    /// The LeNet-5 of `--classifier`, or an error that says how to make one.
    func leNet(for checkpoint: URL, data root: String) throws -> LeNet5 {
        let make = "cyclex gan train-classifier \(root) -o lenet5.safetensors"
        guard let classifier else {
            throw CLIError("\(checkpoint.path) is a grey single GAN, scored on LeNet-5 features: give --classifier FILE "
                           + "(make one with `\(make)`)")
        }
        guard FileManager.default.fileExists(atPath: classifier) else {
            throw CLIError("--classifier \(classifier): no such file (make it with `\(make.replacingOccurrences(of: "lenet5.safetensors", with: classifier))`)")
        }
        return try LeNetClassifier.load(URL(fileURLWithPath: classifier))
    }
}
