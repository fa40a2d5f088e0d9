import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation
import Testing

/// Known answers for SSIM (Gaussian 11×11, σ 1.5, data range 1, population statistics, mean over
/// channels). The two pattern values were computed with scikit-image 0.26.0:
/// `structural_similarity(x / 255, y / 255, gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=1.0, channel_axis=-1)` on the arrays built by `pattern`
/// below with numpy (`np.meshgrid(arange(H), arange(W), arange(3), indexing='ij')`, uint8).
struct StructuralSimilarityTests {
    /// HWC uint8 image with sample `f(row, column, channel)`.
    static func pattern(height: Int, width: Int, _ f: (Int, Int, Int) -> Int) -> [UInt8] {
        var out: [UInt8] = []
        for r in 0..<height { for c in 0..<width { for ch in 0..<3 { out.append(UInt8(f(r, c, ch))) } } }
        return out
    }

    @Test func identicalImagesScoreOne() {
        let x = Self.pattern(height: 12, width: 16) { r, c, ch in (r * 37 + c * 11 + ch * 53) % 256 }
        let value = StructuralSimilarity.mean(x, x, width: 16, height: 12, channels: 3)
        #expect(value != nil && abs(value! - 1) < 1e-12)
    }

    /// Two flat images a and b have no variance, so SSIM reduces to the luminance term
    /// (2ab + C1) / (a² + b² + C1) on the [0, 1] scale.
    @Test func flatImagesGiveTheLuminanceTerm() {
        let (a, b) = (100.0 / 255, 140.0 / 255)
        let expected = (2 * a * b + 1e-4) / (a * a + b * b + 1e-4)   // 0.94595781788139…
        let x = [UInt8](repeating: 100, count: 11 * 11 * 3), y = [UInt8](repeating: 140, count: 11 * 11 * 3)
        let value = StructuralSimilarity.mean(x, y, width: 11, height: 11, channels: 3)
        #expect(value != nil && abs(value! - expected) < 1e-12)
    }

    @Test func unrelatedPatternsMatchScikitImage() {
        let x = Self.pattern(height: 12, width: 16) { r, c, ch in (r * 37 + c * 11 + ch * 53) % 256 }
        let y = Self.pattern(height: 12, width: 16) { r, c, ch in (r * 13 + c * 29 + ch * 7 + (r * c) % 17) % 256 }
        let value = StructuralSimilarity.mean(x, y, width: 16, height: 12, channels: 3)
        #expect(value != nil && abs(value! - 0.12165659762933068) < 1e-9)
        let swapped = StructuralSimilarity.mean(y, x, width: 16, height: 12, channels: 3)
        #expect(swapped != nil && abs(swapped! - value!) < 1e-12)
    }

    @Test func gradientWithABlobMatchesScikitImage() {
        let x = Self.pattern(height: 12, width: 16) { r, c, ch in r * 9 + c * 7 + ch * 20 }
        let y = Self.pattern(height: 12, width: 16) { r, c, ch in
            let blob = (r - 6) * (r - 6) + (c - 8) * (c - 8) < 20 ? 40 : 0
            return min(255, max(0, r * 9 + c * 7 + ch * 20 + blob - ch * 5))
        }
        let value = StructuralSimilarity.mean(x, y, width: 16, height: 12, channels: 3)
        #expect(value != nil && abs(value! - 0.8427072437829565) < 1e-9)
    }

    @Test func imagesSmallerThanTheWindowHaveNoSSIM() {
        let x = [UInt8](repeating: 7, count: 10 * 20 * 3)
        #expect(StructuralSimilarity.mean(x, x, width: 20, height: 10, channels: 3) == nil)
    }

    /// `cyclex score`'s SSIM: one identical pair (1) and one flat pair (the luminance term).
    @Test func pairedScoreAveragesSSIM() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-ssim-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let (out, truth) = (root.appendingPathComponent("out"), root.appendingPathComponent("truth"))
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: truth, withIntermediateDirectories: true)
        let flat = { (v: UInt8) in Image(width: 12, height: 11, channels: 3, samples: [UInt8](repeating: v, count: 12 * 11 * 3)) }
        try flat(100).write(to: out.appendingPathComponent("a.png"))
        try flat(140).write(to: truth.appendingPathComponent("a.png"))
        try flat(50).write(to: out.appendingPathComponent("b.png"))
        try flat(50).write(to: truth.appendingPathComponent("b.png"))
        let score = try PairedScore.compute(translated: out, truth: truth)
        let (a, b) = (100.0 / 255, 140.0 / 255)
        let expected = ((2 * a * b + 1e-4) / (a * a + b * b + 1e-4) + 1) / 2
        #expect(score.ssimPairs == 2)
        #expect(score.meanSSIM != nil && abs(score.meanSSIM! - expected) < 1e-12)
        #expect(score.summary.contains("SSIM"))
    }
}
