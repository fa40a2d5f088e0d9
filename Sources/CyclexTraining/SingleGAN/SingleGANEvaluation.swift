import CyclexEngine
import CyclexImaging
import CyclexMetrics
import CyclexModels
import Foundation

/// FID and KID of a single GAN's samples against real images, on LeNet-5 features (84-d), the
/// xAI-GAN evaluation of MNIST-like data (docs/explanations.md#xai-gan-explanation-matrix is the
/// method; the metrics are `CyclexMetrics`'): FID on all features, KID as the mean and standard
/// deviation of the unbiased cubic-kernel MMD² over 100 seeded subsets.
public struct LeNetScores: Sendable, Equatable {
    public let fid: Double
    public let kidMean: Double
    public let kidStd: Double
    public let realCount: Int
    public let fakeCount: Int

    public var description: String {
        String(format: "FID %.4f  KID %.5f ± %.5f  (LeNet-5 features, %d real, %d generated)", fid, kidMean, kidStd,
               realCount, fakeCount)
    }
}

public enum SingleGANEvaluation {
    /// Scores `fakes` against `reals` (both [N, 1, 32, 32] in [−1, 1]) on `classifier`'s features.
    public static func scores(classifier: LeNet5, reals: Tensor, fakes: Tensor, seed: UInt64 = 0) throws -> LeNetScores {
        let r = LeNetClassifier.features(classifier, of: reals), f = LeNetClassifier.features(classifier, of: fakes)
        let real = FeatureMatrix(rows: r.rows, dimension: 84, values: r.values)
        let fake = FeatureMatrix(rows: f.rows, dimension: 84, values: f.values)
        let fid = try FrechetDistance.distance(FeatureStatistics(real), FeatureStatistics(fake))
        let kid = KernelInceptionDistance.score(real, fake, seed: seed)
        return LeNetScores(fid: fid, kidMean: kid.mean, kidStd: kid.std, realCount: r.rows, fakeCount: f.rows)
    }

    /// Generates `count` images from `model` (noise from `seed`) and scores them against `reals`.
    public static func scores(of model: SingleGANModel, configuration: SingleGANConfiguration, classifier: LeNet5,
                              reals: Tensor, count: Int, seed: UInt64 = 0) throws -> LeNetScores {
        var g = RandomGenerator(seed: seed)
        var chunks: [Tensor] = []
        for start in stride(from: 0, to: count, by: 256) {
            let n = min(256, count - start)
            chunks.append(SingleGANSampling.generate(model.generator, noise: configuration.noise(count: n, using: &g)))
        }
        let fakes = withoutGradient { Tensor.concatenate(chunks, alongAxis: 0) }
        return try scores(classifier: classifier, reals: reals, fakes: fakes, seed: seed)
    }
}
