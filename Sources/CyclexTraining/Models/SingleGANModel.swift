import CyclexEngine
import CyclexModels
import CyclexNN

/// A single GAN trained with explanation-guided generator gradients: xAI-GAN
/// (docs/training.md#xai-gan-step) or LogicGAN (docs/training.md#logicgan-step), on the dense or
/// DCGAN networks.
public final class SingleGANModel {
    public enum Method: String, Sendable, CaseIterable {
        /// BCE with labels 0.9/0.1, g ← g + 0.2·g⊙M from the rejected fakes' explanations.
        case xaiGAN = "xai-gan"
        /// BCE with labels 1/0, the pre-tanh gradient replaced by dL/dy ⊙ |SHAP| scaled to [0, 1].
        case logicGAN = "logic-gan"
    }

    /// How the explanation mask M is computed for xAI-GAN.
    public enum Attribution: String, Sendable, CaseIterable {
        /// |∂D(x)/∂x| per fake.
        case saliency
        /// DeepLiftShap against `shapBaselines` (dense discriminators).
        case deepLiftShap = "shap"
        /// LIME on fixed patches (`lime`), of the discriminator in evaluation mode; xAI-GAN
        /// explains only the rejected fakes (the others' rows are not used).
        case lime
    }

    public let method: Method
    public var attribution: Attribution = .saliency
    public let generator: any NoiseImageGenerator
    public let discriminator: any ProbabilityDiscriminator
    public let optimizerG: Adam, optimizerD: Adam
    /// Global gradient-norm clip of the generator (after the explanation-modified backward).
    public var maximumGradientNorm: Float = 10
    /// xAI-GAN's α in g + α·g⊙M.
    public var alpha: Float = 0.2
    /// Baselines for DeepLiftShap (xAI-GAN: the first real batch, fixed for the run).
    public var shapBaselines: Tensor?
    /// LIME's settings and its perturbation stream (saved in checkpoints).
    public var lime = LimeExplainer()
    public var limeGenerator = RandomGenerator(seed: 0x11AE)
    /// Where the explanation rule is attached during the generator's backward pass.
    private let rule = GradientRuleSlot()

    public init(method: Method, generator: any NoiseImageGenerator, discriminator: any ProbabilityDiscriminator,
                learningRate: Float = 2e-4) {
        self.method = method
        self.generator = generator
        self.discriminator = discriminator
        optimizerG = Adam(parameters: generator.parameters, learningRate: learningRate, beta1: 0.5, beta2: 0.99)
        optimizerD = Adam(parameters: discriminator.parameters, learningRate: learningRate, beta1: 0.5, beta2: 0.99)
        generator.outputGradientRule = rule.outputGradientRule
    }

    /// Labels (real, fake, generator target).
    var labels: (real: Float, fake: Float, generator: Float) {
        method == .xaiGAN ? (0.9, 0.1, 0.9) : (1, 0, 1)
    }

    /// One D step then one G step. `explain` switches the explanation rule on (xAI-GAN: the
    /// second half of training); `attributions` overrides the computed ones (LogicGAN's SHAP
    /// values, or a test's).
    public func trainStep(real: Tensor, noiseForD: Tensor, noiseForG: Tensor, explain: Bool,
                          attributions given: Tensor? = nil) throws -> StepReport {
        let l = labels
        var report = StepReport()
        // Discriminator on real and detached fakes.
        let fakeD = withoutGradient { generator(noiseForD) }
        optimizerD.zeroGradients()
        let predReal = discriminator(real), predFake = discriminator(fakeD)
        let lossReal = predReal.bceLoss(target: l.real), lossFake = predFake.bceLoss(target: l.fake)
        let lossD = lossReal + lossFake
        try requireFinite(lossD.item, "the discriminator loss")
        lossD.backward(accumulatingInto: optimizerD.parameters)
        optimizerD.step()

        // Generator against the updated discriminator.
        let fakeG = generator(noiseForG)
        let predG = discriminator(fakeG)
        var outputRule: OutputGradientRule?
        if explain {
            let mask: Tensor
            switch method {
            case .xaiGAN:
                let attributions = given ?? computeAttributions(fakeG.detached(), explain: predG.scalars.map { $0 < 0.5 })
                let (m, rejected) = GANExplanations.xaiGANMatrix(probabilities: predG.scalars, attributions: attributions)
                mask = m
                report.tensors["attributions"] = attributions
                report.diagnostics += rejected.enumerated().map { ("rejected.\($0.offset)", $0.element ? 1 : 0) }
                outputRule = GradientRules.xaiGAN(mask: mask, alpha: alpha)
            case .logicGAN:
                let attributions = given ?? computeAttributions(fakeG.detached())
                mask = GANExplanations.logicGANMask(attributions: attributions)
                outputRule = GradientRules.logicGAN(mask: mask)
            }
            report.tensors["M"] = mask
        }
        let lossG = predG.bceLoss(target: l.generator)
        try requireFinite(lossG.item, "the generator loss")
        optimizerG.zeroGradients()
        rule.applying(outputRule) { lossG.backward(accumulatingInto: optimizerG.parameters) }
        for (name, p) in generator.namedParameters { report.tensors["grad_unclipped.\(name)"] = p.gradient?.copy() }
        try requireFiniteGradients(optimizerG.parameters, "the generator")
        let (norm, coefficient) = clipGradientNorm(optimizerG.parameters, maxNorm: maximumGradientNorm)
        optimizerG.step()

        report.losses = [("D_real", lossReal.item), ("D_fake", lossFake.item), ("D", lossD.item), ("G", lossG.item)]
        report.diagnostics += [("total_norm", norm), ("clip_coef", coefficient)]
        for (name, t) in [("fake_D", fakeD), ("pred_real", predReal), ("pred_fake", predFake), ("fake_G", fakeG),
                          ("pred_G", predG)] { report.tensors[name] = t.detached() }
        return report
    }

    /// Attributions of `fakes` [B, ...]; `explain` marks the rows whose attributions are used
    /// (LIME computes only those; the gradient-based explainers compute every row).
    func computeAttributions(_ fakes: Tensor, explain: [Bool]? = nil) -> Tensor {
        switch attribution {
        case .lime:
            // xAI-GAN uses the attributions only when at least two fakes are rejected.
            let rows = explain.map { $0.filter { $0 }.count > 1 ? $0 : [Bool](repeating: false, count: $0.count) }
            return withEvaluationMode(discriminator) {
                lime.attributions(of: { self.discriminator($0) }, at: fakes, explain: rows, using: &limeGenerator)
            }
        case .saliency:
            return GANExplanations.probabilitySaliency(of: { self.discriminator($0) }, at: fakes)
        case .deepLiftShap:
            guard let dense = discriminator as? DenseDiscriminator, let baselines = shapBaselines else {
                preconditionFailure("DeepLiftShap needs a dense discriminator and shapBaselines")
            }
            return GANExplanations.deepLiftShap(of: dense, inputs: fakes, baselines: baselines).attributions
        }
    }
}


/// Runs `body` with `discriminator`'s dropout and BatchNorm in evaluation mode (what LIME queries:
/// a fixed function of the image, not a random or batch-dependent one), then restores the mode.
func withEvaluationMode<T>(_ discriminator: any ProbabilityDiscriminator, _ body: () -> T) -> T {
    if let dense = discriminator as? DenseDiscriminator {
        let was = dense.isTraining
        dense.isTraining = false
        defer { dense.isTraining = was }
        return body()
    }
    if let dcgan = discriminator as? DcganDiscriminator {
        let was = dcgan.norms.map(\.isTraining)
        dcgan.norms.forEach { $0.isTraining = false }
        defer { zip(dcgan.norms, was).forEach { $0.isTraining = $1 } }
        return body()
    }
    return body()
}
