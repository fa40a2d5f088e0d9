import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation
import Testing

struct PairedScoreTests {
    @Test func knownDifferences() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-score-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let (out, truth) = (root.appendingPathComponent("out"), root.appendingPathComponent("truth"))
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: truth, withIntermediateDirectories: true)
        // Pair 1 differs by 10 levels everywhere (PSNR 10·log10(255²/100) = 28.13 dB); pair 2 is
        // identical (counted as 100 dB); a third output has no counterpart.
        let base = Image(width: 4, height: 3, channels: 3, samples: [UInt8](repeating: 100, count: 36))
        let shifted = Image(width: 4, height: 3, channels: 3, samples: [UInt8](repeating: 110, count: 36))
        try shifted.write(to: out.appendingPathComponent("a.png"))
        try base.write(to: truth.appendingPathComponent("a.png"))
        try base.write(to: out.appendingPathComponent("b.png"))
        try base.write(to: truth.appendingPathComponent("b.png"))
        try base.write(to: out.appendingPathComponent("c.png"))
        let score = try PairedScore.compute(translated: out, truth: truth)
        #expect(score.pairs == 2)
        #expect(abs(score.meanL1 - 5.0 / 255) < 1e-12)
        #expect(abs(score.meanPSNR - (10 * log10(255.0 * 255 / 100) + 100) / 2) < 1e-9)
        #expect(score.problems.count == 1 && score.problems[0].contains("c.png"))
        // 4×3 images are smaller than SSIM's 11×11 window: no SSIM, and the summary says so.
        #expect(score.meanSSIM == nil && score.ssimPairs == 0 && score.summary.contains("SSIM n/a"))
    }
}
