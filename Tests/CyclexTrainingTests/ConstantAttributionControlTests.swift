import CyclexEngine
import CyclexModels
import Foundation
@testable import CyclexTraining
import Testing

/// `--explainer constant` (docs/explanations.md#constant-attribution-control): the xAI-GAN rule with
/// the same attribution for every explained pixel, so M is 1 on the fakes the discriminator accepts
/// and 0 on the ones it rejects, and the generator's gradient is the plain one with the accepted
/// fakes' rows scaled by 1 + α. Checked against a gradient computed here from the step's own fakes,
/// not through the rule.
struct ConstantAttributionControlTests {
    @Test func acceptedFakesScaledByOnePlusAlphaRejectedOnesUnchanged() throws {
        var c = SingleGANConfiguration()
        c.explainer = .constant
        c.denseGeneratorWidths = [16, 32, 64]; c.denseDiscriminatorWidths = [64, 32, 16]
        let model = c.makeModel(seed: 3)
        let d = try #require(model.discriminator as? DenseDiscriminator)
        d.isTraining = false  // no dropout, so the gradient below is the step's own function of the fakes
        let batch = 16
        var g = RandomGenerator(seed: 4)
        let real = Tensor(randomUniform: [batch, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        let noiseForD = c.noise(count: batch, using: &g), noiseForG = c.noise(count: batch, using: &g)
        // A fresh D gives every fake nearly the same probability; spread its logits (output weights
        // ×100) and centre them on the fakes' median, so that about half of the batch is rejected.
        let parameters = Dictionary(uniqueKeysWithValues: d.namedParameters.map { ($0.name, $0.tensor) })
        let outWeight = try #require(parameters["out.0.weight"]), outBias = try #require(parameters["out.0.bias"])
        for k in 0..<outWeight.count { outWeight.pointer[k] *= 100 }
        let logits = withoutGradient { d(model.generator(noiseForG)) }.scalars.map { Foundation.log($0 / (1 - $0)) }.sorted()
        outBias.pointer[0] -= (logits[batch / 2 - 1] + logits[batch / 2]) / 2
        let report = try model.trainStep(real: real, noiseForD: noiseForD, noiseForG: noiseForG, explain: true)

        // The discriminator after its step, as the generator's loss saw it.
        let fakes = try #require(report.tensors["fake_G"]).copy()
        fakes.requiresGradient = true
        let prediction = withGradient { d(fakes) }
        #expect(prediction.scalars == (try #require(report.tensors["pred_G"])).scalars)
        let accepted = prediction.scalars.map { $0 >= 0.5 }
        let rejectedCount = accepted.filter { !$0 }.count
        try #require(rejectedCount >= 2 && rejectedCount < batch, "the batch must mix accepted and rejected fakes: \(prediction.scalars)")

        // M: exactly 1 on accepted rows, exactly 0 on rejected ones.
        let per = fakes.count / batch
        let mask = try #require(report.tensors["M"]).scalars
        for i in 0..<batch {
            #expect(mask[(i * per)..<((i + 1) * per)].allSatisfy { $0 == (accepted[i] ? 1 : 0) }, "row \(i)")
        }

        // The output layer's bias gradient is Σ_i of the pre-tanh gradient's rows: the plain one
        // (dL/dy · (1 − y²)) with the accepted rows times 1 + α.
        let loss = withGradient { prediction.bceLoss(target: c.labels.generator) }
        let dy = Tensor.gradients(of: loss, withRespectTo: [fakes])[0].scalars
        let y = fakes.scalars
        var control = [Double](repeating: 0, count: per), plain = control
        for i in 0..<batch {
            for j in 0..<per {
                let preTanh = Double(dy[i * per + j]) * (1 - Double(y[i * per + j]) * Double(y[i * per + j]))
                plain[j] += preTanh
                control[j] += preTanh * (accepted[i] ? 1 + Double(c.alpha) : 1)
            }
        }
        let bias = try #require(report.tensors["grad_unclipped.out.0.bias"]).scalars
        let scale = control.map(abs).max() ?? 0
        try #require(scale > 0)
        let error = zip(bias, control).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(error <= 1e-5 * scale, "bias gradient off by \(error) (scale \(scale))")
        // …and measurably different from the plain GAN's, which the control must not reproduce.
        let fromPlain = zip(bias, plain).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(fromPlain > 100 * error && fromPlain > 1e-3 * scale)
    }

    @Test func attributionsAreZeroEverywhere() throws {
        var c = SingleGANConfiguration()
        c.explainer = .constant
        c.denseGeneratorWidths = [16, 32, 64]; c.denseDiscriminatorWidths = [64, 32, 16]
        let model = c.makeModel(seed: 3)
        var g = RandomGenerator(seed: 8)
        let fakes = Tensor(randomUniform: [4, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        #expect(model.computeAttributions(fakes, explain: [true, false, true, true]).scalars.allSatisfy { $0 == 0 })
    }

    @Test func onlyForTheXaiGANRule() {
        var c = SingleGANConfiguration()
        c.explainer = .constant
        #expect(c.problem == nil)
        c.rule = .logicgan
        #expect(c.problem?.contains("--explainer constant") == true)
    }
}
