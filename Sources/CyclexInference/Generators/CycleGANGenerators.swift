import CyclexEngine
import CyclexModels
import CyclexNN

/// The two ResNet generators of a CycleGAN. Naming as junyanz: `G_A` maps A→B, `G_B` maps B→A.
public final class CycleGANGenerators: GeneratorPair {
    public let configuration: ModelConfiguration
    /// A→B (`G_A`) and B→A (`G_B`).
    public let a: ResnetGenerator, b: ResnetGenerator

    public init(configuration c: ModelConfiguration, using g: inout RandomGenerator) {
        configuration = c
        func make() -> ResnetGenerator {
            ResnetGenerator(filters: c.generatorFilters, residualBlocks: c.residualBlocks, inputChannels: c.channels,
                            outputChannels: c.channels, initialization: c.initialization, using: &g)
        }
        a = make()
        b = make()
    }

    public var networks: [(prefix: String, module: any Module)] { [("G_A", a), ("G_B", b)] }

    public func generate(_ images: Tensor, direction: TranslationDirection) -> Tensor {
        direction == .aToB ? a(images) : b(images)
    }
}
