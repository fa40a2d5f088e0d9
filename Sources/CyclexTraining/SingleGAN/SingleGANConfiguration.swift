import CyclexEngine
import CyclexModels
import CyclexNN
import Foundation

/// Everything that decides a single GAN's networks and training rule (docs/training.md#xai-gan-step,
/// docs/training.md#logicgan-step): saved as JSON in every single-GAN checkpoint
/// (`cyclex.single-gan`), so a checkpoint rebuilds its model without the command line.
public struct SingleGANConfiguration: Codable, Equatable, Sendable {
    public enum Network: String, Codable, Sendable, CaseIterable {
        /// Fully connected G and D (xAI-GAN's MNIST networks).
        case dense
        /// xAI-GAN's DCGAN-style CIFAR networks (32×32).
        case dcgan
    }

    public enum Rule: String, Codable, Sendable, CaseIterable {
        /// BCE with labels 0.9/0.1, g + α·g⊙M at the pre-tanh output in the second half of the epochs.
        case xaigan
        /// BCE with labels 1/0, the pre-tanh gradient replaced by dL/dy ⊙ |M| in every epoch.
        case logicgan
    }

    public enum Explainer: String, Codable, Sendable, CaseIterable {
        case none, saliency, shap, lime
        /// A control, not an explanation: every explained row gets the attribution 0, so the
        /// xAI-GAN matrix keeps only which fakes the discriminator accepts
        /// (docs/explanations.md#constant-attribution-control).
        case constant
    }

    public var network: Network = .dense
    public var rule: Rule = .xaigan
    public var explainer: Explainer = .none
    /// Image channels (1 gray, 3 colour) and side.
    public var channels = 1
    public var side = 32
    public var noiseSize = 100
    /// Dense widths (xAI-GAN's for 32×32).
    public var denseGeneratorWidths = [256, 512, 1296]
    public var denseDiscriminatorWidths = [1296, 512, 256]
    /// DCGAN filter counts.
    public var dcganGeneratorFilters = 64
    public var dcganDiscriminatorFilters = 64
    /// Adam for both networks (docs/training.md#adam).
    public var learningRate: Float = 2e-4
    public var beta1 = 0.5
    public var beta2 = 0.99
    /// Global L2 clip of the generator's gradient (docs/training.md#gradient-clipping).
    public var maximumGradientNorm: Float = 10
    /// xAI-GAN's α in g + α·g⊙M.
    public var alpha: Float = 0.2
    /// LIME: patch side and perturbed samples per explained image.
    public var limePatchSize = 4
    public var limeSamples = 64
    /// DeepSHAP's pair-backward arithmetic on the dense D (nil: f32; absent from older checkpoints).
    public var shapPrecision: ExplanationPrecision?
    /// DeepSHAP against the first this many images of the background batch only (nil: all of
    /// it, the exact method; absent from older checkpoints). An approximation, as an explicit
    /// option: docs/explanations.md#deepshap-baselines.
    public var shapBaselines: Int?

    public init() {}

    /// Labels (real, fake, generator target): xAI-GAN smooths both sides, LogicGAN does not.
    public var labels: (real: Float, fake: Float, generator: Float) {
        rule == .xaigan ? (0.9, 0.1, 0.9) : (1, 0, 1)
    }

    /// Whether the explanation rule acts in `epoch` (1-based) of `epochs`: xAI-GAN from the
    /// epoch after ⌈E/2⌉ (epochs 26–50 of 50, 4–5 of 5), LogicGAN in every epoch; never without
    /// an explainer.
    public func explains(epoch: Int, of epochs: Int) -> Bool {
        guard explainer != .none else { return false }
        switch rule {
        case .xaigan: return epoch - 1 >= (epochs + 1) / 2
        case .logicgan: return true
        }
    }

    /// A problem with this combination, phrased for the flag that causes it, or nil.
    public var problem: String? {
        if side != 32 && network == .dcgan { return "--model dcgan: works on 32×32 images only" }
        if shapPrecision == .bf16 && (explainer != .shap || network != .dense) {
            return "--shap-precision bf16: applies to --explainer shap on --model dense only"
        }
        if explainer == .constant && rule != .xaigan {
            return "--explainer constant: a control for --rule xaigan only (LogicGAN's mask of a constant is 0 everywhere:"
                + " the generator would get no gradient)"
        }
        if let n = shapBaselines, explainer != .shap || n < 1 {
            return explainer != .shap ? "--shap-baselines: applies to --explainer shap only"
                : "--shap-baselines \(n): must be at least 1"
        }
        return nil
    }

    /// Fresh networks and optimisers from `seed`.
    public func makeModel(seed: UInt64) -> SingleGANModel {
        var g = RandomGenerator(seed: seed)
        let generator: any NoiseImageGenerator, discriminator: any ProbabilityDiscriminator
        switch network {
        case .dense:
            generator = DenseGenerator(noiseSize: noiseSize, hidden: denseGeneratorWidths, imageShape: [channels, side, side],
                                       using: &g)
            discriminator = DenseDiscriminator(imageShape: [channels, side, side], hidden: denseDiscriminatorWidths, using: &g)
        case .dcgan:
            generator = DcganGenerator(noiseSize: noiseSize, filters: dcganGeneratorFilters, channels: channels, using: &g)
            discriminator = DcganDiscriminator(filters: dcganDiscriminatorFilters, channels: channels, using: &g)
        }
        let model = SingleGANModel(method: rule == .xaigan ? .xaiGAN : .logicGAN, generator: generator,
                                   discriminator: discriminator, learningRate: learningRate)
        for optimizer in [model.optimizerG, model.optimizerD] {
            (optimizer.beta1, optimizer.beta2) = (beta1, beta2)
        }
        model.maximumGradientNorm = maximumGradientNorm
        model.alpha = alpha
        switch explainer {
        case .none, .saliency: model.attribution = .saliency
        case .shap: model.attribution = .deepLiftShap
        case .lime: model.attribution = .lime
        case .constant: model.attribution = .constant
        }
        model.shapPrecision = shapPrecision ?? .f32
        model.shapBaselineCount = shapBaselines
        model.lime = LimeExplainer(patchSize: limePatchSize, samples: limeSamples)
        model.limeGenerator = g.split()
        return model
    }

    /// Noise for `count` images: [count, nz] (dense) or [count, nz, 1, 1] (DCGAN), N(0, 1).
    public func noise(count: Int, using g: inout RandomGenerator) -> Tensor {
        Tensor(randomNormal: network == .dense ? [count, noiseSize] : [count, noiseSize, 1, 1], using: &g)
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}
