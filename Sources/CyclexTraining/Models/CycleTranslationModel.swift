import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import Foundation

/// A training step's losses in a fixed order (for logs and progress), plus the step's images.
public struct StepReport {
    public var losses: [(name: String, value: Float)] = []
    /// Extra scalars worth showing (xAI: the λ values).
    public var diagnostics: [(name: String, value: Float)] = []
    /// Named intermediate tensors (fakes, reconstructions, maps) for tests and sample grids.
    public var tensors: [String: Tensor] = [:]

    public subscript(loss name: String) -> Float? { losses.first { $0.name == name }?.value }
    public subscript(diagnostic name: String) -> Float? { diagnostics.first { $0.name == name }?.value }
}

/// Problems during a training step.
public enum TrainingStepError: LocalizedError {
    case nonFinite(what: String, value: Float)

    public var errorDescription: String? {
        switch self {
        case let .nonFinite(what, value): return "\(what) is \(value)"
        }
    }
}

/// What trainers, checkpoints and `translate` need from a CycleGAN-family model.
public protocol CycleTranslationModel: AnyObject {
    var configuration: ModelConfiguration { get }
    /// Networks under their checkpoint prefixes (G_A, D_B, ...), in a fixed order.
    var networks: [(prefix: String, module: any Module)] { get }
    var optimizers: [(name: String, optimizer: Adam)] { get }
    var pools: [(name: String, pool: ImagePool)] { get }
    /// Stream for noise masks and pool decisions (saved in checkpoints).
    var generator: RandomGenerator { get set }

    /// One optimisation step on a batch of each domain ([B, C, H, W] in [−1, 1]).
    func trainStep(realA: Tensor, realB: Tensor) throws -> StepReport
    /// The two generators (also in `networks`): what sample grids and `translate` use.
    var generatorPair: any GeneratorPair { get }
    /// Multiplies every optimiser's base learning rate by `factor`.
    func setLearningRateFactor(_ factor: Float)
}

extension CycleTranslationModel {
    public var parameterCount: Int { networks.reduce(0) { $0 + $1.module.parameterCount } }
}

/// Builds the model a configuration describes, with fresh weights from `seed`.
public func makeModel(_ configuration: ModelConfiguration, seed: UInt64) -> any CycleTranslationModel {
    switch configuration.kind {
    case .cycleGAN: return CycleGANModel(configuration: configuration, seed: seed)
    case .xaiCycleGAN: return XAICycleGANModel(configuration: configuration, seed: seed)
    }
}
