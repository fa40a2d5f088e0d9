import CyclexImaging
import Foundation

/// KID and FID of one set of generated images against real ones, with the protocol that
/// produced them (what `cyclex evaluate` prints and training logs record).
public struct GenerativeScores: Codable, Equatable, Sendable {
    public var kidMean: Double
    public var kidStd: Double
    public var kidSubsetSize: Int
    public var kidSubsets: Int
    public var fid: Double
    public var realCount: Int
    public var fakeCount: Int

    /// Lines that say how the numbers were made and how far to trust them.
    public var protocolLines: [String] {
        var lines = ["features: " + InceptionPreprocessing.description,
                     "KID: unbiased MMD^2, kernel (x.y/2048 + 1)^3, mean ± std over \(kidSubsets) subsets of \(kidSubsetSize) images",
                     "FID: Fréchet distance of Gaussian fits (float64, symmetric eigen route); \(realCount) real vs \(fakeCount) generated images"]
        if min(realCount, fakeCount) < 2048 {
            lines.append("FID is biased upwards at this size (\(min(realCount, fakeCount)) < 2048 images per set): compare it only between runs scored on the same sets; KID is not biased")
        }
        return lines
    }
}

public enum GenerativeEvaluation {
    /// Scores from feature matrices (real first). Needs at least 2 rows per set.
    public static func score(real: FeatureMatrix, fake: FeatureMatrix, subsets: Int = 100, seed: UInt64 = 0) throws -> GenerativeScores {
        let size = KernelInceptionDistance.defaultSubsetSize(real.rows, fake.rows)
        let kid = KernelInceptionDistance.score(real, fake, subsetSize: size, subsets: subsets, seed: seed)
        let fid = try FrechetDistance.distance(FeatureStatistics(real), FeatureStatistics(fake))
        return GenerativeScores(kidMean: kid.mean, kidStd: kid.std, kidSubsetSize: size, kidSubsets: subsets, fid: fid,
                                realCount: real.rows, fakeCount: fake.rows)
    }

    /// Scores two image sets through `extractor`.
    public static func score(real: [Image], fake: [Image], extractor: InceptionFeatureExtractor) throws -> GenerativeScores {
        try score(real: extractor.features(of: real), fake: extractor.features(of: fake))
    }

    /// Every readable image under `folder` (recursively, sorted by path), with the unreadable
    /// ones named in `skipped` rather than failing the whole evaluation.
    public static func images(in folder: URL) throws -> (images: [Image], skipped: [String]) {
        let listing = try ImageFolder(folder)
        var images: [Image] = [], skipped: [String] = []
        for url in listing.files {
            do { images.append(try Image(contentsOf: url)) } catch { skipped.append("\(url.path): \(error.localizedDescription)") }
        }
        return (images, skipped)
    }
}
