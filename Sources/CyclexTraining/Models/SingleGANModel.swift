import CyclexEngine
import CyclexInference
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
        /// DeepLiftShap against `shapBaselines` (dense; DCGAN with BatchNorm in evaluation mode).
        case deepLiftShap = "shap"
        /// LIME on fixed patches (`lime`), of the discriminator in evaluation mode; xAI-GAN
        /// explains only the rejected fakes (the others' rows are not used).
        case lime
        /// The control of docs/explanations.md#constant-attribution-control: 0 for every pixel,
        /// so after the matrix's min-max the rejected rows are 0 and the accepted rows 1, and
        /// xAI-GAN's rule only scales the accepted fakes' gradients by 1 + α.
        case constant
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
    /// The arithmetic of the dense DeepSHAP's pair backward (docs/explanations.md#deepshap-precision).
    public var shapPrecision: ExplanationPrecision = .f32
    /// DeepSHAP against the first this many rows of `shapBaselines` only (nil: all of them, the
    /// exact method; docs/explanations.md#deepshap-baselines).
    public var shapBaselineCount: Int?
    /// LIME's settings and its perturbation stream (saved in checkpoints).
    public var lime = LimeExplainer()
    public var limeGenerator = RandomGenerator(seed: 0x11AE)
    /// The data-parallel seam shared with the CycleGAN recipes (`GradientReducer`): called after
    /// each backward and the finite check, before the generator's clip and each Adam step, so the
    /// clip sees the global gradient. The identity in one process (nothing distributes single GANs yet).
    public var gradientReducer: any GradientReducer = SingleProcessReducer()
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
        try requireFiniteGradients(optimizerD.parameters, "the discriminator")
        try gradientReducer.reduceGradients(optimizerD.parameters)
        optimizerD.step()

        // Generator against the updated discriminator.
        let fakeG = generator(noiseForG)
        let predG = discriminator(fakeG)
        let lossG = predG.bceLoss(target: l.generator)
        try requireFinite(lossG.item, "the generator loss")
        // Dense D: the saliency of every fake comes out of the loss's own forward (see
        // `sharedForwardSaliency`); the generator's backward then starts from it.
        let shared = explain && given == nil ? sharedForwardSaliency(fake: fakeG, prediction: predG) : nil
        var outputRule: OutputGradientRule?
        if explain {
            let mask: Tensor
            switch method {
            case .xaiGAN:
                let attributions = given ?? shared?.saliency
                    ?? computeAttributions(fakeG.detached(), explain: predG.scalars.map { $0 < 0.5 })
                let (m, rejected) = GANExplanations.xaiGANMatrix(probabilities: predG.scalars, attributions: attributions)
                mask = m
                report.tensors["attributions"] = attributions
                report.diagnostics += rejected.enumerated().map { ("rejected.\($0.offset)", $0.element ? 1 : 0) }
                outputRule = GradientRules.xaiGAN(mask: mask, alpha: alpha)
            case .logicGAN:
                let attributions = given ?? shared?.saliency ?? computeAttributions(fakeG.detached())
                mask = GANExplanations.logicGANMask(attributions: attributions)
                outputRule = GradientRules.logicGAN(mask: mask)
            }
            report.tensors["M"] = mask
        }
        optimizerG.zeroGradients()
        rule.applying(outputRule) {
            if let shared {
                // dL/df_i = dL/dp_i · ∂p_i/∂f_i: the rest of the chain through D is already known.
                let dLossdP = Tensor.gradients(of: lossG, withRespectTo: [predG])[0]
                let seed = withoutGradient { shared.signed * dLossdP.reshaped(to: [predG.shape[0]] + Array(repeating: 1, count: fakeG.rank - 1)) }
                fakeG.backward(accumulatingInto: optimizerG.parameters, seed: seed)
            } else {
                lossG.backward(accumulatingInto: optimizerG.parameters)
            }
        }
        for (name, p) in generator.namedParameters { report.tensors["grad_unclipped.\(name)"] = p.gradient?.copy() }
        try requireFiniteGradients(optimizerG.parameters, "the generator")
        try gradientReducer.reduceGradients(optimizerG.parameters)
        let (norm, coefficient) = clipGradientNorm(optimizerG.parameters, maxNorm: maximumGradientNorm)
        optimizerG.step()

        report.losses = [("D_real", lossReal.item), ("D_fake", lossFake.item), ("D", lossD.item), ("G", lossG.item)]
        report.diagnostics += [("total_norm", norm), ("clip_coef", coefficient)]
        for (name, t) in [("fake_D", fakeD), ("pred_real", predReal), ("pred_fake", predFake), ("fake_G", fakeG),
                          ("pred_G", predG)] { report.tensors[name] = t.detached() }
        return report
    }

    /// Probability saliency |∂p_i/∂f_i| of every fake from ONE backward of Σ p_i through the forward
    /// the generator loss already made, for the dense discriminator only: its rows never mix (each
    /// Linear, LeakyReLU, dropout mask and sigmoid acts row by row), so ∂(Σ_j p_j)/∂f_i = ∂p_i/∂f_i.
    /// The map is of D as the loss sees it, with this forward's dropout mask (the reference draws a
    /// fresh mask per sample: the same distribution). A DCGAN discriminator in training mode
    /// normalises with the batch's statistics, so its rows are coupled; it keeps the per-sample
    /// forwards of `GANExplanations.probabilitySaliency` (nil here). Returns the map and the signed
    /// gradient, from which the generator's backward continues.
    func sharedForwardSaliency(fake: Tensor, prediction: Tensor) -> (saliency: Tensor, signed: Tensor)? {
        guard attribution == .saliency, discriminator is DenseDiscriminator else { return nil }
        let signed = Tensor.gradients(of: prediction, withRespectTo: [fake])[0]
        return (withoutGradient { signed.abs() }, signed)
    }

    /// Attributions of `fakes` [B, ...]; `explain` marks the rows whose attributions are used
    /// (LIME and DeepSHAP compute only those, the others stay 0; saliency computes every row).
    func computeAttributions(_ fakes: Tensor, explain: [Bool]? = nil) -> Tensor {
        // xAI-GAN uses the attributions only when at least two fakes are rejected.
        let rows = explain.map { $0.filter { $0 }.count > 1 ? $0 : [Bool](repeating: false, count: $0.count) }
        switch attribution {
        case .lime:
            if let dense = discriminator as? DenseDiscriminator {
                return lime.attributions(of: dense.limeHead, at: fakes, explain: rows, using: &limeGenerator)
            }
            if let dcgan = discriminator as? DcganDiscriminator {
                // Evaluation mode without autodiff: the same function of the image, on the
                // inference convolutions (docs/explanations.md#lime).
                let forward = DcganDiscriminatorInferenceForward(dcgan)
                return lime.attributions(of: { forward($0) }, at: fakes, explain: rows, using: &limeGenerator)
            }
            return withEvaluationMode(discriminator) {
                lime.attributions(of: { self.discriminator($0) }, at: fakes, explain: rows, using: &limeGenerator)
            }
        case .constant:
            return Tensor(zeros: fakes.shape)
        case .saliency:
            return GANExplanations.probabilitySaliency(of: { self.discriminator($0) }, at: fakes)
        case .deepLiftShap:
            guard let background = shapBaselines else { preconditionFailure("DeepLiftShap needs shapBaselines") }
            let baselines = Self.leadingRows(background, shapBaselineCount)
            if let dense = discriminator as? DenseDiscriminator {
                return GANExplanations.deepLiftShapMean(of: dense, inputs: fakes, baselines: baselines, explain: rows,
                                                        precision: shapPrecision)
            }
            guard let dcgan = discriminator as? DcganDiscriminator else {
                preconditionFailure("DeepLiftShap is implemented for the dense and DCGAN discriminators")
            }
            return GANExplanations.deepLiftShap(of: dcgan, inputs: fakes, baselines: baselines, explain: rows).attributions
        }
    }
}


extension SingleGANModel {
    /// The first `count` rows of `t` (all of them when nil or not fewer).
    static func leadingRows(_ t: Tensor, _ count: Int?) -> Tensor {
        guard let count, count < t.shape[0] else { return t }
        let per = t.count / t.shape[0]
        let rows = Tensor(uninitializedShape: [count] + t.shape.dropFirst())
        rows.pointer.update(from: t.pointer, count: count * per)
        return rows
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
