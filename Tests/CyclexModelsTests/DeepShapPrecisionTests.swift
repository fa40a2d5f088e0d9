import CyclexEngine
import CyclexModels
import CyclexNN
import Foundation
import Testing

/// The dense DeepSHAP with its pair backward in bfloat16 (docs/explanations.md#deepshap-precision)
/// against the float32 one: the same attributions up to bf16 rounding, and the same xAI-GAN mask
/// to within 2 % of its [0, 1] range. On a CPU without AVX512_BF16 the option falls back to
/// float32, and the test checks that the results are then identical.
struct DeepShapPrecisionTests {
    /// Spearman's rank correlation (no ties expected in continuous data).
    static func rankCorrelation(_ a: [Float], _ b: [Float]) -> Double {
        func ranks(_ v: [Float]) -> [Double] {
            var r = [Double](repeating: 0, count: v.count)
            for (rank, index) in v.indices.sorted(by: { v[$0] < v[$1] }).enumerated() { r[index] = Double(rank) }
            return r
        }
        let (ra, rb) = (ranks(a), ranks(b))
        let n = Double(a.count), mean = (n - 1) / 2
        var (sab, saa, sbb) = (0.0, 0.0, 0.0)
        for i in a.indices {
            let (x, y) = (ra[i] - mean, rb[i] - mean)
            sab += x * y; saa += x * x; sbb += y * y
        }
        return sab / (saa * sbb).squareRoot()
    }

    /// The network at the width xAI-GAN uses for 32×32 (1024 → 1296 → 512 → 256 → 1), PyTorch's
    /// default initialisation; fakes in (−1, 1) and baselines with a dark background, like digits.
    @Test func bf16MatchesFloat32AtTheRealWidths() {
        var g = RandomGenerator(seed: 4)
        let d = DenseDiscriminator(imageShape: [1, 32, 32], hidden: [1296, 512, 256], using: &g)
        d.isTraining = false
        let fakes = Tensor(randomNormal: [12, 1, 32, 32], using: &g).tanh()
        let baselines = Tensor(randomUniform: [16, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        for e in 0..<baselines.count where e % 3 != 0 { baselines.pointer[e] = -1 }
        let explain = (0..<12).map { $0 % 4 != 3 }
        let exact = GANExplanations.deepLiftShapMean(of: d, inputs: fakes, baselines: baselines, explain: explain)
        let rounded = GANExplanations.deepLiftShapMean(of: d, inputs: fakes, baselines: baselines, explain: explain,
                                                       precision: .bf16)
        #expect(ExplanationPrecision.bf16Available ? exact.scalars != rounded.scalars : exact.scalars == rounded.scalars)
        let per = 1024
        let rows = (0..<12).filter { explain[$0] }
        let a = rows.flatMap { exact.scalars[($0 * per)..<(($0 + 1) * per)] }
        let b = rows.flatMap { rounded.scalars[($0 * per)..<(($0 + 1) * per)] }
        let correlation = Self.rankCorrelation(a, b)
        #expect(correlation > 0.99, "rank correlation \(correlation)")
        let scale = a.map { abs($0) }.max()!
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(worst < 0.05 * scale, "max |bf16 − f32| \(worst) against max |f32| \(scale)")
        // Completeness survives the rounding: Σ attributions ≈ D(x) − mean D(b), to within 1 % of
        // Σ |attributions| (the sum of 1024 terms of both signs; float32 holds it to ~1e-6).
        let p = withoutGradient { d(fakes) }.scalars, pb = withoutGradient { d(baselines) }.scalars
        let meanBaseline = pb.reduce(0, +) / Float(pb.count)
        for i in rows {
            let row = rounded.scalars[(i * per)..<((i + 1) * per)]
            let total = row.reduce(0, +), change = p[i] - meanBaseline, size = row.map { abs($0) }.reduce(0, +)
            #expect(abs(total - change) <= 0.01 * size, "row \(i): Σ \(total) vs \(change) (Σ|a| \(size))")
        }
        // The xAI-GAN mask (one global min-max) of the two: within 2 % of its range everywhere.
        let probabilities = (0..<12).map { explain[$0] ? Float(0.2) : 0.8 }
        let m1 = GANExplanations.xaiGANMatrix(probabilities: probabilities, attributions: exact).mask.scalars
        let m2 = GANExplanations.xaiGANMatrix(probabilities: probabilities, attributions: rounded).mask.scalars
        let maskGap = zip(m1, m2).map { abs($0 - $1) }.max()!
        #expect(maskGap < 0.02, "mask max |Δ| \(maskGap)")
    }

    /// Odd widths and an input size that is no multiple of 8 exercise the packing's padding.
    @Test func oddWidthsArePaddedCorrectly() {
        var g = RandomGenerator(seed: 8)
        let d = DenseDiscriminator(imageShape: [1, 5, 5], hidden: [7, 5, 3], using: &g)
        d.isTraining = false
        let x = Tensor(randomUniform: [3, 1, 5, 5], lowerBound: -1, upperBound: 1, using: &g)
        let baselines = Tensor(randomUniform: [5, 1, 5, 5], lowerBound: -1, upperBound: 1, using: &g)
        let (exact, exactPairs) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines)
        let (rounded, roundedPairs) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines, precision: .bf16)
        let scale = exactPairs.scalars.map { abs($0) }.max()!
        #expect(scale > 0)
        #expect(zip(exactPairs.scalars, roundedPairs.scalars).allSatisfy { abs($0 - $1) <= 0.03 * scale })
        #expect(zip(exact.scalars, rounded.scalars).allSatisfy { abs($0 - $1) <= 0.03 * scale })
        // Per pair, Σ attributions = D(x) − D(b) up to the rounding.
        let p = withoutGradient { d(x) }.scalars, pb = withoutGradient { d(baselines) }.scalars
        for i in 0..<3 {
            for k in 0..<5 {
                let total = roundedPairs.scalars[((i * 5 + k) * 25)..<((i * 5 + k + 1) * 25)].reduce(0, +)
                #expect(abs(total - (p[i] - pb[k])) <= 0.02 * abs(p[i] - pb[k]) + 1e-4, "pair (\(i), \(k))")
            }
        }
    }
}
