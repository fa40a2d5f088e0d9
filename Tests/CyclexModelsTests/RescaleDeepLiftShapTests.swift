import CyclexEngine
import CyclexModels
import CyclexNN
import Foundation
import Testing

/// DeepLiftShap through affine stages (docs/explanations.md#deepshap) for the DCGAN discriminator,
/// against known answers: DeepLIFT's summation-to-delta per pair, and, for a baseline a small step
/// away from the input, the first-order answer (x − b) ⊙ ∇D(x) (secant slopes tend to derivatives).
/// The same engine is checked against the captum fixture on the dense discriminator in
/// `ExplanationFixtureTests`.
struct RescaleDeepLiftShapTests {
    static func discriminator() -> DcganDiscriminator {
        var g = RandomGenerator(seed: 17)
        let d = DcganDiscriminator(filters: 4, channels: 3, initialization: .pytorchDefault, using: &g)
        // Uniform weights (larger than the DCGAN N(0, 0.02²)) keep gradients far above float rounding;
        // non-trivial running statistics, so evaluation-mode BatchNorm is a real affine map.
        for (index, norm) in d.norms.enumerated() {
            for (name, buffer) in norm.namedBuffers where name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
                let values = (0..<buffer.count).map { name.hasSuffix("var") ? 0.5 + Float($0 % 3) * 0.4 : 0.1 * Float($0 % 5) - 0.2 + Float(index) * 0.05 }
                buffer.assign(Tensor(shape: buffer.shape, scalars: values))
            }
        }
        return d
    }

    static func images(_ n: Int, seed: UInt64, scale: Float = 1) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor(randomUniform: [n, 3, 32, 32], lowerBound: -scale, upperBound: scale, using: &g)
    }

    static func evaluate(_ d: DcganDiscriminator, _ x: Tensor) -> [Float] {
        d.norms.forEach { $0.isTraining = false }
        defer { d.norms.forEach { $0.isTraining = true } }
        return withoutGradient { d(x) }.scalars
    }

    @Test func everyPairSumsToTheChangeOfTheOutput() {
        let d = Self.discriminator()
        let x = Self.images(2, seed: 1), baselines = Self.images(3, seed: 2)
        let buffers = d.namedBuffers.map(\.tensor.scalars)
        let (mean, pairs) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines, keepPairs: true)
        let perPair = try! #require(pairs)
        #expect(d.norms.allSatisfy(\.isTraining) && d.namedBuffers.map(\.tensor.scalars) == buffers)
        let px = Self.evaluate(d, x), pb = Self.evaluate(d, baselines)
        let per = 3 * 32 * 32
        for i in 0..<2 {
            for k in 0..<3 {
                let total = perPair.scalars[((i * 3 + k) * per)..<((i * 3 + k + 1) * per)].reduce(0, +)
                #expect(abs(total - (px[i] - pb[k])) < 2e-4, "pair \(i),\(k): \(total) vs \(px[i] - pb[k])")
            }
            // The mean is the mean of the pairs.
            for e in stride(from: 0, to: per, by: 97) {
                let average = (0..<3).map { perPair.scalars[(i * 3 + $0) * per + e] }.reduce(0, +) / 3
                #expect(abs(mean.scalars[i * per + e] - average) < 1e-6)
            }
        }
        #expect(Set(px.map { $0.bitPattern }).count == 2)  // not a degenerate network
    }

    @Test func aNearbyBaselineGivesTheGradientTimesTheStep() throws {
        let d = Self.discriminator()
        let x = Self.images(1, seed: 3)
        let step = Self.images(1, seed: 4, scale: 1e-4)
        let baseline = withoutGradient { x - step }
        let (attributions, _) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baseline)
        d.norms.forEach { $0.isTraining = false }
        let input = x.copy()
        input.requiresGradient = true
        let p = withGradient { d(input).sum() }
        let gradient = Tensor.gradients(of: p, withRespectTo: [input])[0]
        d.norms.forEach { $0.isTraining = true }
        let expected = zip(step.scalars, gradient.scalars).map { $0 * $1 }
        let scale = expected.map { abs($0) }.max()!
        #expect(scale > 0)
        let worst = zip(attributions.scalars, expected).map { abs($0 - $1) }.max()!
        #expect(worst < 0.05 * scale, "largest deviation \(worst) against largest term \(scale)")
    }

    @Test func onlyTheRequestedRowsAreComputed() {
        let d = Self.discriminator()
        let x = Self.images(3, seed: 5), baselines = Self.images(2, seed: 6)
        let all = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines).attributions.scalars
        let some = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines, explain: [false, true, false]).attributions.scalars
        let per = 3 * 32 * 32
        #expect(Array(some[per..<(2 * per)]) == Array(all[per..<(2 * per)]))
        #expect(some[0..<per].allSatisfy { $0 == 0 } && some[(2 * per)...].allSatisfy { $0 == 0 })
    }

    /// The backward-only DCGAN explainer against the general autodiff form (a recorded forward of
    /// K rows per input, then the engine's backward): the same per-pair attributions up to float
    /// rounding, on the tile widths of a real run (16 filters, one channel) and on colour images.
    @Test(arguments: [(4, 3), (16, 1)])
    func backwardOnlyMatchesTheAutodiffForm(filters: Int, channels: Int) {
        var g = RandomGenerator(seed: 31)
        let d = DcganDiscriminator(filters: filters, channels: channels, initialization: .pytorchDefault, using: &g)
        for (index, norm) in d.norms.enumerated() {
            for (name, buffer) in norm.namedBuffers where name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
                let values = (0..<buffer.count).map { name.hasSuffix("var") ? 0.4 + Float($0 % 3) * 0.3 : 0.1 * Float($0 % 5) - 0.2 + Float(index) * 0.05 }
                buffer.assign(Tensor(shape: buffer.shape, scalars: values))
            }
        }
        var u = RandomGenerator(seed: 8)
        let x = Tensor(randomUniform: [3, channels, 32, 32], lowerBound: -1, upperBound: 1, using: &u)
        let baselines = Tensor(randomUniform: [5, channels, 32, 32], lowerBound: -1, upperBound: 1, using: &u)
        let explain = [true, false, true]
        let (mean, pairs) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines, explain: explain, keepPairs: true)
        d.norms.forEach { $0.isTraining = false }
        let (referenceMean, referencePairs) = GANExplanations.rescaleDeepLiftShap(
            stages: d.affineStages, inputs: x, baselines: baselines, explain: explain, keepPairs: true)
        d.norms.forEach { $0.isTraining = true }
        let got = pairs!.scalars, expected = referencePairs!.scalars
        let scale = expected.map { abs($0) }.max()!
        #expect(scale > 1e-5)
        let worst = zip(got, expected).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "largest per-pair difference \(worst) against \(scale)")
        let worstMean = zip(mean.scalars, referenceMean.scalars).map { abs($0 - $1) }.max()!
        #expect(worstMean <= 1e-4 * scale)
        let per = channels * 32 * 32
        #expect(mean.scalars[per..<(2 * per)].allSatisfy { $0 == 0 })
    }
}
