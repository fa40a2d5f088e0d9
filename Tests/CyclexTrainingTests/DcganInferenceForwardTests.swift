import CyclexEngine
@testable import CyclexInference
import CyclexModels
import CyclexNN
import Foundation
import Testing

/// The DCGAN discriminator's inference forward (LIME's queries, docs/explanations.md#lime) against
/// the engine's `DcganDiscriminator` with its norms in evaluation mode: the same probabilities up to
/// float rounding, on the tile-kernel widths (multiples of 16 channels) and on widths that take the
/// im2col path, for grey and colour images; and the same LIME coefficients through either forward.
struct DcganInferenceForwardTests {
    /// A discriminator with weights far from zero and non-trivial running statistics, so the
    /// evaluation-mode BatchNorm is a real affine map and the probabilities spread over (0, 1).
    static func discriminator(filters: Int, channels: Int) -> DcganDiscriminator {
        var g = RandomGenerator(seed: 23)
        let d = DcganDiscriminator(filters: filters, channels: channels, initialization: .pytorchDefault, using: &g)
        for (index, norm) in d.norms.enumerated() {
            for (name, buffer) in norm.namedBuffers where name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
                let values = (0..<buffer.count).map {
                    name.hasSuffix("var") ? 0.3 + Float($0 % 4) * 0.3 : 0.05 * Float($0 % 7) - 0.15 + Float(index) * 0.02
                }
                buffer.assign(Tensor(shape: buffer.shape, scalars: values))
            }
            norm.weight.assign(Tensor(shape: norm.weight.shape, scalars: (0..<norm.weight.count).map { 0.6 + 0.1 * Float($0 % 5) }))
            norm.bias.assign(Tensor(shape: norm.bias.shape, scalars: (0..<norm.bias.count).map { 0.04 * Float($0 % 3) - 0.04 }))
        }
        return d
    }

    static func evaluationMode(_ d: DcganDiscriminator, _ x: Tensor) -> [Float] {
        d.norms.forEach { $0.isTraining = false }
        defer { d.norms.forEach { $0.isTraining = true } }
        return withoutGradient { d(x) }.scalars
    }

    @Test(arguments: [(16, 1), (16, 3), (4, 3)])
    func matchesTheEvaluationModeDiscriminator(filters: Int, channels: Int) {
        let d = Self.discriminator(filters: filters, channels: channels)
        var g = RandomGenerator(seed: 5)
        let x = Tensor(randomUniform: [70, channels, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        let expected = Self.evaluationMode(d, x)
        let forward = DcganDiscriminatorInferenceForward(d)
        let got = forward(x)
        #expect(got.shape == [70, 1, 1, 1])  // more than one chunk of the third convolution
        for (a, b) in zip(got.scalars, expected) { #expect(abs(a - b) < 2e-6, "\(a) vs \(b)") }
        #expect(Set(expected.map { ($0 * 1000).rounded() }).count > 3)  // the probabilities differ: a live network
        #expect(d.norms.allSatisfy { $0.isTraining })
    }

    @Test func limeCoefficientsAgreeWithTheEvaluationModeDiscriminator() {
        let d = Self.discriminator(filters: 16, channels: 1)
        var g = RandomGenerator(seed: 9)
        let x = Tensor(randomUniform: [3, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        let lime = LimeExplainer(patchSize: 8, samples: 24)
        var streamA = RandomGenerator(seed: 4), streamB = RandomGenerator(seed: 4)
        let forward = DcganDiscriminatorInferenceForward(d)
        let fast = lime.attributions(of: { forward($0) }, at: x, explain: [true, false, true], using: &streamA)
        d.norms.forEach { $0.isTraining = false }
        let reference = lime.attributions(of: { d($0) }, at: x, explain: [true, false, true], using: &streamB)
        d.norms.forEach { $0.isTraining = true }
        let scale = reference.scalars.map { abs($0) }.max() ?? 0
        #expect(scale > 1e-4)
        for (a, b) in zip(fast.scalars, reference.scalars) { #expect(abs(a - b) <= 1e-3 * scale, "\(a) vs \(b)") }
        #expect(fast.scalars[1024..<2048].allSatisfy { $0 == 0 })  // the row not asked for
    }
}
