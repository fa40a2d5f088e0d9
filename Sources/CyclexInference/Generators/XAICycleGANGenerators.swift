import CyclexEngine
import CyclexModels
import CyclexNN

/// The two masked generators of an xAI-CycleGAN. Naming as the paper's code: `G_AB` maps A→B,
/// `G_BA` maps B→A.
public final class XAICycleGANGenerators: GeneratorPair {
    public let configuration: ModelConfiguration
    public let ab: XaiGenerator, ba: XaiGenerator

    public init(configuration c: ModelConfiguration, using g: inout RandomGenerator) {
        configuration = c
        func make() -> XaiGenerator {
            XaiGenerator(filters: c.generatorFilters, residualBlocks: c.residualBlocks, upActivation: c.upActivation,
                         channels: c.channels, initialization: c.initialization, using: &g)
        }
        ab = make()
        ba = make()
    }

    public var networks: [(prefix: String, module: any Module)] { [("G_AB", ab), ("G_BA", ba)] }

    /// The generator for `direction`.
    public func generator(_ direction: TranslationDirection) -> XaiGenerator { direction == .aToB ? ab : ba }

    /// At inference the generators see a fixed mask instead of fresh noise.
    public func generate(_ images: Tensor, direction: TranslationDirection) -> Tensor {
        generator(direction)(images, mask: inferenceMask(like: images))
    }

    /// The fixed inference mask: N(1, σ²) drawn from `inferenceMaskSeed` for this shape, so the
    /// same input always gives the same output (and a round trip sees the same mask twice).
    public func inferenceMask(like images: Tensor) -> Tensor {
        var g = RandomGenerator(seed: configuration.inferenceMaskSeed)
        return Tensor(randomNormal: images.shape, mean: 1, standardDeviation: configuration.maskStandardDeviation, using: &g)
    }
}
