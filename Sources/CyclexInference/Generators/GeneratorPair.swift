import CyclexEngine
import CyclexNN

/// Translation direction: A→B uses the A-to-B generator, B→A the other.
public enum TranslationDirection: String, Sendable, CaseIterable, Codable {
    case aToB = "a2b", bToA = "b2a"
}

/// The two generators of a CycleGAN-family model: everything inference needs, and the part of
/// a training model that sample grids and `translate` use.
public protocol GeneratorPair: AnyObject {
    var configuration: ModelConfiguration { get }
    /// Both generators under their checkpoint prefixes, the A→B generator first
    /// (CycleGAN: `G_A`, `G_B`; xAI-CycleGAN: `G_AB`, `G_BA`).
    var networks: [(prefix: String, module: any Module)] { get }
    /// One inference call of the generator for `direction` on `[B, C, H, W]` in [−1, 1], sides
    /// multiples of `configuration.stride`. Records gradients only if the caller does.
    func generate(_ images: Tensor, direction: TranslationDirection) -> Tensor
}

extension TranslationDirection {
    /// The other direction (used for reconstructions).
    public var reversed: TranslationDirection { self == .aToB ? .bToA : .aToB }
}

extension GeneratorPair {
    /// Translates without recording gradients.
    public func translate(_ images: Tensor, direction: TranslationDirection) -> Tensor {
        withoutGradient { generate(images, direction: direction) }
    }

    /// Round trip for sample grids, without gradients: (translated, reconstructed).
    public func translateAndReconstruct(_ images: Tensor, direction: TranslationDirection) -> (Tensor, Tensor) {
        withoutGradient {
            let fake = generate(images, direction: direction)
            return (fake, generate(fake, direction: direction.reversed))
        }
    }

    public var parameterCount: Int { networks.reduce(0) { $0 + $1.module.parameterCount } }
}

/// The generator pair a configuration describes, with fresh weights drawn from `g` (A→B first,
/// then B→A: the order the training models rely on for reproducible initialisation).
public func makeGeneratorPair(_ configuration: ModelConfiguration, using g: inout RandomGenerator) -> any GeneratorPair {
    switch configuration.kind {
    case .cycleGAN: return CycleGANGenerators(configuration: configuration, using: &g)
    case .xaiCycleGAN: return XAICycleGANGenerators(configuration: configuration, using: &g)
    }
}
