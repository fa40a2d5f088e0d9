import CyclexImaging
import CyclexMetrics
import CyclexTraining
import Foundation

/// KID and FID for `cyclex train --eval-every`, when the Inception weights are installed: a
/// `HeldOutEvaluation.DistributionScorer` that extracts InceptionV3 pool3 features (FidHelper's
/// protocol) of both image sets, remembering the real sets' features (the real test images are
/// the same at every evaluation), and returns `kid`, `kid_std` and `fid`.
final class TrainingKID {
    let extractor: InceptionFeatureExtractor
    private var cache: [Int: FeatureMatrix] = [:]

    /// Nil (with the reason) when the weights cannot be loaded.
    static func make() -> (TrainingKID?, String?) {
        do {
            return (TrainingKID(extractor: try InceptionFeatureExtractor()), nil)
        } catch {
            return (nil, error.localizedDescription)
        }
    }

    init(extractor: InceptionFeatureExtractor) { self.extractor = extractor }

    func score(real: [Image], translated: [Image]) throws -> [(name: String, value: Double)] {
        guard real.count >= 4, translated.count >= 4 else { return [] }  // KID/FID need a few images per set
        let scores = try GenerativeEvaluation.score(real: realFeatures(real), fake: extractor.features(of: translated))
        return [("kid", scores.kidMean), ("kid_std", scores.kidStd), ("fid", scores.fid)]
    }

    /// Features of the real set, from the cache when the same pixels were scored before.
    func realFeatures(_ images: [Image]) -> FeatureMatrix {
        var hasher = Hasher()
        for image in images {
            hasher.combine(image.width); hasher.combine(image.height); hasher.combine(image.channels)
            switch image.samples {
            case let .uint8(values): hasher.combine(values)
            case let .uint16(values): hasher.combine(values)
            }
        }
        let key = hasher.finalize()
        if let known = cache[key] { return known }
        let result = extractor.features(of: images)
        cache[key] = result
        return result
    }
}
