import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexModels
import CyclexNN
import Foundation

/// One model kind's training recipe: it owns the networks, optimisers and image pools, and
/// declares the learning-rate schedule, the resize filter, the epoch policy and the names of
/// its losses, λ values and sample images. The trainer and checkpoints work through this
/// protocol only; nothing outside a recipe knows which model it trains.
public protocol ModelRecipe: AnyObject {
    /// Fresh weights from `seed`.
    init(configuration: ModelConfiguration, seed: UInt64)

    var configuration: ModelConfiguration { get }
    /// The two generators (also in `networks`): what sample grids and `translate` use.
    var generatorPair: any GeneratorPair { get }
    /// Networks under their checkpoint prefixes (G_A, D_B, ...), in a fixed order.
    var networks: [(prefix: String, module: any Module)] { get }
    /// Optimisers under their checkpoint names; each scales its own base learning rate.
    var optimizers: [(name: String, optimizer: Adam)] { get }
    var pools: [(name: String, pool: ImagePool)] { get }
    /// Stream for noise masks and pool decisions (saved in checkpoints).
    var generator: RandomGenerator { get set }
    /// Combines each step with the other replicas of a data-parallel run (`GradientReducer`);
    /// `SingleProcessReducer` (the identity) unless the trainer runs under MPI.
    var gradientReducer: any GradientReducer { get set }

    /// The names the step reports and what to show of them.
    var declaration: StepDeclaration { get }
    /// How an epoch pairs images of A and B (the model's paper).
    var epochPolicy: UnpairedDataset.EpochPolicy { get }
    /// The resampling filter of the training images' resize.
    var resizeFilter: ResizeFilter { get }
    /// The learning-rate factor per epoch for a run of `epochs` epochs whose last
    /// `decayEpochs` decay linearly.
    func schedule(epochs: Int, decayEpochs: Int) -> LearningRateSchedule

    /// One optimisation step on a batch of each domain ([B, C, H, W] in [−1, 1]).
    func trainStep(realA: Tensor, realB: Tensor) throws -> StepReport
}

extension ModelRecipe {
    public var parameterCount: Int { networks.reduce(0) { $0 + $1.module.parameterCount } }

    /// Multiplies every optimiser's base learning rate by `factor`.
    public func setLearningRateFactor(_ factor: Float) {
        for (_, optimizer) in optimizers { optimizer.learningRate = optimizer.baseLearningRate * factor }
    }

    /// The images the declared sample rows name, for probe batches of each domain: `real_X`,
    /// the translation `fake_Y` and the reconstruction `rec_X` (no gradients).
    public func sampleImages(probesA: Tensor, probesB: Tensor) -> [String: Tensor] {
        let (fakeB, recA) = generatorPair.translateAndReconstruct(probesA, direction: .aToB)
        let (fakeA, recB) = generatorPair.translateAndReconstruct(probesB, direction: .bToA)
        return ["real_A": probesA, "fake_B": fakeB, "rec_A": recA, "real_B": probesB, "fake_A": fakeA, "rec_B": recB]
    }
}

extension ModelConfiguration.Kind {
    /// The recipe that trains this kind of model (the one place that maps kinds to recipes).
    public var recipe: any ModelRecipe.Type {
        switch self {
        case .cycleGAN: return CycleGANModel.self
        case .xaiCycleGAN: return XAICycleGANModel.self
        }
    }
}

/// Builds the recipe a configuration describes, with fresh weights from `seed`.
public func makeModel(_ configuration: ModelConfiguration, seed: UInt64) -> any ModelRecipe {
    configuration.kind.recipe.init(configuration: configuration, seed: seed)
}
