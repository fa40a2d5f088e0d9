import CyclexModels
import CyclexNN
import Foundation

/// Everything needed to rebuild and train a CycleGAN-family model. Stored as JSON in every
/// checkpoint, so `translate` needs no architecture flags.
public struct ModelConfiguration: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// junyanz CycleGAN (docs/training.md#cyclegan-step): ResNet generator, PatchGAN, LSGAN.
        case cycleGAN = "cyclegan"
        /// xAI-CycleGAN as cyclex trains it (docs/training.md#xai-cyclegan-step).
        case xaiCycleGAN = "xai-cyclegan"
    }

    /// Which discriminator losses feed λ of each explanation map (docs/explanations.md#lambda-source).
    public enum LambdaSource: String, Codable, Sendable, CaseIterable {
        /// λ of the same discriminator whose saliency is used (cyclex default).
        case sameDomain = "same-domain"
        /// The reference's wiring: the map for G_AB uses the A-domain discriminators' losses.
        case crossed
    }

    public var kind: Kind
    /// Training image side (square crops).
    public var imageSize: Int
    public var channels = 3
    public var generatorFilters: Int
    public var residualBlocks: Int
    public var discriminatorFilters: Int
    public var initialization: Initialization
    public var upActivation: XaiGenerator.UpActivation = .leakyRelu

    public var learningRateGenerator: Float
    public var learningRateDiscriminator: Float
    public var beta1: Double = 0.5
    public var beta2: Double = 0.999
    /// λ_cyc.
    public var cycleWeight: Float = 10
    /// Identity loss weight as applied (CycleGAN: 0.5·λ_cyc = 5; xAI-CycleGAN: 3).
    public var identityWeight: Float
    /// xAI-CycleGAN adversarial weight (1.5); 1 for CycleGAN.
    public var adversarialWeight: Float
    /// Mask discriminator's share of the adversarial and D losses (0.7).
    public var maskAdversarialRatio: Float = 0.7
    /// Masked region's share of the cycle loss (0.3).
    public var maskCycleRatio: Float = 0.3
    public var poolSize = 50
    /// Soft mask M ~ N(1, σ²).
    public var maskStandardDeviation: Float = 0.02
    /// λ ramp exponent γ (0.5 "fast start").
    public var gamma: Float = 0.5
    public var lambdaSource: LambdaSource = .sameDomain
    /// Seed of the fixed noise mask used at inference (docs/training.md#inference-mask).
    public var inferenceMaskSeed: UInt64 = 0

    /// The network stride: inputs must be multiples of it (4 for CycleGAN, 8 for xAI).
    public var stride: Int { kind == .cycleGAN ? 4 : 8 }

    /// Named sizes. `tiny` is for tests and simple changes (the glyph demo's stroke weight); `small` gets somewhere on a 2-core CPU at 64–128 px;
    /// `standard` is the reference size (junyanz ResNet-9 ngf 64 / PatchGAN ndf 64; xAI at the
    /// width of the authors' last version, ngf 32, 8 blocks, ndf 32; docs/training.md#presets).
    public enum Preset: String, Codable, Sendable, CaseIterable { case tiny, small, standard }

    public static func preset(_ preset: Preset, kind: Kind, imageSize: Int) -> ModelConfiguration {
        let (ngf, blocks, ndf): (Int, Int, Int)
        switch (preset, kind) {
        case (.tiny, _): (ngf, blocks, ndf) = (8, 2, 8)
        case (.small, .cycleGAN): (ngf, blocks, ndf) = (32, 6, 32)
        case (.small, .xaiCycleGAN): (ngf, blocks, ndf) = (16, 6, 32)
        case (.standard, .cycleGAN): (ngf, blocks, ndf) = (64, 9, 64)
        case (.standard, .xaiCycleGAN): (ngf, blocks, ndf) = (32, 8, 32)
        }
        switch kind {
        case .cycleGAN:
            return ModelConfiguration(
                kind: kind, imageSize: imageSize, generatorFilters: ngf, residualBlocks: blocks,
                discriminatorFilters: ndf, initialization: .normal002, learningRateGenerator: 2e-4,
                learningRateDiscriminator: 2e-4, identityWeight: 5, adversarialWeight: 1)
        case .xaiCycleGAN:
            return ModelConfiguration(
                kind: kind, imageSize: imageSize, generatorFilters: ngf, residualBlocks: blocks,
                discriminatorFilters: ndf, initialization: .pytorchDefault, learningRateGenerator: 2e-4,
                learningRateDiscriminator: 5e-5, identityWeight: 3, adversarialWeight: 1.5)
        }
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
