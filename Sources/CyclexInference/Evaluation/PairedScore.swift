import CyclexImaging
import Foundation

/// Compares translated images with their true counterparts (same relative path, any image
/// extension), e.g. Noto emoji translated to EmojiOne against the real EmojiOne drawings:
/// mean L1, PSNR and SSIM (see `StructuralSimilarity`) over the pairs.
public struct PairedScore: Sendable {
    public let pairs: Int
    /// Mean absolute difference per sample, on the 0…1 scale (×2 for CycleGAN's [−1, 1] L1).
    public let meanL1: Double
    /// Mean PSNR in dB (identical pairs count as 100 dB).
    public let meanPSNR: Double
    /// Mean SSIM (Gaussian 11×11, σ 1.5, [0, 1] scale, mean over RGB channels) over the pairs at
    /// least 11×11 pixels; nil when no pair is that large.
    public let meanSSIM: Double?
    /// How many pairs `meanSSIM` averages.
    public let ssimPairs: Int
    /// Translated files without a counterpart, or unreadable, with the reason.
    public let problems: [String]

    public var summary: String {
        let ssim: String
        if let meanSSIM {
            ssim = String(format: ", mean SSIM %.4f", meanSSIM) + (ssimPairs < pairs ? " (over the \(ssimPairs) pairs of at least 11x11 px)" : "")
        } else {
            ssim = ", SSIM n/a (images smaller than its 11x11 window)"
        }
        return String(format: "%d pairs: mean L1 %.4f (%.2f grey levels, %.4f on the [-1, 1] scale), mean PSNR %.2f dB",
                      pairs, meanL1, meanL1 * 255, meanL1 * 2, meanPSNR) + ssim
    }

    /// Scores every image under `translated` against `truth`.
    public static func compute(translated: URL, truth: URL) throws -> PairedScore {
        let outputs = try ImageFolder(translated)
        let references = try ImageFolder(truth)
        var byStem: [String: URL] = [:]
        for url in references.files {
            byStem[(references.relativePath(of: url) as NSString).deletingPathExtension] = url
        }
        var (count, l1Sum, psnrSum) = (0, 0.0, 0.0)
        var (ssimCount, ssimSum) = (0, 0.0)
        var problems: [String] = []
        for url in outputs.files {
            let stem = (outputs.relativePath(of: url) as NSString).deletingPathExtension
            guard let reference = byStem[stem] else {
                problems.append("\(url.path): no counterpart in \(truth.path)")
                continue
            }
            do {
                let pair = Self.score(try Image(contentsOf: url), against: try Image(contentsOf: reference))
                l1Sum += pair.l1
                psnrSum += pair.psnr
                if let ssim = pair.ssim {
                    ssimSum += ssim
                    ssimCount += 1
                }
                count += 1
            } catch {
                problems.append(error.localizedDescription)
            }
        }
        return PairedScore(pairs: count, meanL1: count > 0 ? l1Sum / Double(count) : .nan,
                           meanPSNR: count > 0 ? psnrSum / Double(count) : .nan,
                           meanSSIM: ssimCount > 0 ? ssimSum / Double(ssimCount) : nil, ssimPairs: ssimCount,
                           problems: problems)
    }

    /// Mean scores over pairs already in memory (e.g. the held-out split during training).
    public static func compute(pairs: [(translated: Image, truth: Image)]) -> PairedScore {
        let scores = pairs.map { score($0.translated, against: $0.truth) }
        let ssims = scores.compactMap(\.ssim)
        let n = Double(scores.count)
        return PairedScore(pairs: scores.count, meanL1: scores.isEmpty ? .nan : scores.map(\.l1).reduce(0, +) / n,
                           meanPSNR: scores.isEmpty ? .nan : scores.map(\.psnr).reduce(0, +) / n,
                           meanSSIM: ssims.isEmpty ? nil : ssims.reduce(0, +) / Double(ssims.count), ssimPairs: ssims.count,
                           problems: [])
    }

    /// One translated image against its true counterpart, both as 8-bit RGB (the truth resized,
    /// bicubic, when the sizes differ): L1 on the [0, 1] scale, PSNR in dB (100 for identical
    /// images), SSIM (nil below 11×11 pixels).
    public static func score(_ translated: Image, against truth: Image) -> (l1: Double, psnr: Double, ssim: Double?) {
        let a = translated.converted(toChannels: 3).converted(toBitDepth: 8)
        var b = truth.converted(toChannels: 3).converted(toBitDepth: 8)
        if b.size != a.size { b = b.resized(to: a.size, filter: .bicubic) }
        let (x, y) = (a.samples8!, b.samples8!)
        var absSum = 0.0, sqSum = 0.0
        for i in 0..<x.count {
            let d = Double(Int(x[i]) - Int(y[i]))
            absSum += abs(d); sqSum += d * d
        }
        let count = Double(max(x.count, 1))
        let mse = sqSum / count
        return (absSum / count / 255, mse == 0 ? 100 : 10 * log10(255 * 255 / mse),
                StructuralSimilarity.mean(x, y, width: a.width, height: a.height, channels: 3))
    }
}
