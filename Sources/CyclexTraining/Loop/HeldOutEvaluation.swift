import CyclexEngine
import CyclexImaging
import CyclexInference
import Foundation

/// Scores a model's generators on the held-out split during training (`cyclex train --eval-every`).
///
/// The test images (`testA/`, `testB/` of the data folder, at most `maximumImages` each, in file
/// order) are loaded once at the training size with the inference preprocessing (resize, no flip)
/// and translated in both directions at every evaluation. Scores, by name:
///
/// - `l1_a2b`, `psnr_a2b`, `ssim_a2b` (and `_b2a`): paired scores (see `PairedScore`,
///   `StructuralSimilarity`) of each translation against the image of the same file name in the
///   other domain, when the test folders hold such pairs (the glyph and emoji sets do);
///   `l1_a2b_identity` etc. are the same scores of the untranslated inputs, the baseline to beat;
/// - whatever `distributionScorer` returns for (real images of the target domain, translations),
///   e.g. `kid_a2b`, `fid_a2b` from the Inception features, with `_identity` baselines likewise.
///
/// The checkpoint kept as `best.safetensors` is the one with the lowest `criterion`: the KID sum
/// over both directions when the scorer gives KID, else the paired L1 sum.
public final class HeldOutEvaluation {
    /// Scores of a set of translations against real images of the target domain, by name without
    /// direction (e.g. `[("kid", 0.05), ("fid", 120)]`); the direction suffix is added here.
    public typealias DistributionScorer = (_ real: [Image], _ translated: [Image]) throws -> [(name: String, value: Double)]

    struct Domain {
        /// File stems (relative path without extension), for pairing.
        var stems: [String]
        /// The images at training size, 8-bit.
        var images: [Image]
        /// The same images as one `[N, C, S, S]` batch in [−1, 1].
        var batch: Tensor
    }

    let a: Domain, b: Domain
    public var distributionScorer: DistributionScorer?
    /// Translations per generator call (bounds the memory of one evaluation).
    public var chunkSize = 16
    private var identityScores: [(name: String, value: Double)]?

    /// Loads `dataRoot/testA` and `dataRoot/testB`.
    /// - Throws: when either folder is missing or has no readable image (names the folder).
    public init(dataRoot: URL, size: Int, channels: Int, maximumImages: Int = 250) throws {
        let preprocessing = Preprocessing.inference(size: size, channels: channels)
        func load(_ name: String) throws -> Domain {
            let folder = try ImageFolder(dataRoot.appendingPathComponent(name))
            var (stems, images, scalars) = ([String](), [Image](), [Float]())
            var generator = RandomGenerator(seed: 0)
            for url in folder.files where images.count < maximumImages {
                guard let image = try? Image(contentsOf: url),
                      let prepared = try? preprocessing.apply(to: image, path: url.path, using: &generator) else { continue }
                stems.append((folder.relativePath(of: url) as NSString).deletingPathExtension)
                images.append(prepared)
                scalars += prepared.chwScalars(channels: channels)
            }
            guard !images.isEmpty else {
                throw ImageError.emptyFolder(path: folder.root.path, detail: "none of its images could be read for --eval-every")
            }
            return Domain(stems: stems, images: images,
                          batch: Tensor(shape: [images.count, channels, size, size], scalars: scalars))
        }
        a = try load("testA")
        b = try load("testB")
    }

    /// Test images per domain.
    public var counts: (a: Int, b: Int) { (a.images.count, b.images.count) }

    /// Every score of `generators` on the held-out split, and the identity baselines.
    public func evaluate(_ generators: any GeneratorPair) throws -> [(name: String, value: Double)] {
        var scores: [(name: String, value: Double)] = []
        var identity: [(name: String, value: Double)] = []
        for (source, target, direction) in [(a, b, TranslationDirection.aToB), (b, a, .bToA)] {
            let translated = try translate(source.batch, generators, direction)
            let suffix = direction.rawValue
            scores += Self.paired(translated, stems: source.stems, truth: target).map { ("\($0.name)_\(suffix)", $0.value) }
            if let scorer = distributionScorer {
                scores += try scorer(target.images, translated).map { ("\($0.name)_\(suffix)", $0.value) }
            }
            if identityScores == nil {
                identity += Self.paired(source.images, stems: source.stems, truth: target)
                    .map { ("\($0.name)_\(suffix)_identity", $0.value) }
                if let scorer = distributionScorer {
                    identity += try scorer(target.images, source.images).map { ("\($0.name)_\(suffix)_identity", $0.value) }
                }
            }
        }
        if identityScores == nil { identityScores = identity }
        return scores + (identityScores ?? [])
    }

    /// The value `best.safetensors` minimises: the KID sum over both directions when present,
    /// else the paired L1 sum; nil when neither was scored.
    public static func criterion(_ scores: [(name: String, value: Double)]) -> (name: String, value: Double)? {
        for metric in ["kid", "l1"] {
            let values = scores.filter { $0.name == "\(metric)_a2b" || $0.name == "\(metric)_b2a" }.map(\.value)
            if !values.isEmpty { return (metric, values.reduce(0, +)) }
        }
        return nil
    }

    func translate(_ batch: Tensor, _ generators: any GeneratorPair, _ direction: TranslationDirection) throws -> [Image] {
        let n = batch.shape[0], per = batch.count / n
        var out: [Image] = []
        var start = 0
        while start < n {
            let count = min(chunkSize, n - start)
            let chunk = Tensor(uninitializedShape: [count] + batch.shape.dropFirst())
            chunk.pointer.update(from: batch.pointer + start * per, count: count * per)
            out += try Image.images(fromBatch: generators.translate(chunk, direction: direction))
            start += count
        }
        return out
    }

    /// Mean L1 ([0, 1] scale), PSNR and SSIM of `images` against the target images with the same
    /// stems; empty when no stem matches.
    static func paired(_ images: [Image], stems: [String], truth: Domain) -> [(name: String, value: Double)] {
        var index: [String: Int] = [:]
        for (i, stem) in truth.stems.enumerated() { index[stem] = i }
        let pairs = zip(images, stems).compactMap { image, stem in index[stem].map { (translated: image, truth: truth.images[$0]) } }
        guard !pairs.isEmpty else { return [] }
        let score = PairedScore.compute(pairs: pairs)
        return [("l1", score.meanL1), ("psnr", score.meanPSNR)] + (score.meanSSIM.map { [("ssim", $0)] } ?? [])
    }
}
