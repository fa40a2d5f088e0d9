import Foundation
import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexModels
import CyclexNN

/// The junyanz CycleGAN recipe (`docs/training.md#cyclegan-step`). Naming as junyanz: G_A: A→B,
/// G_B: B→A, D_A judges domain B (fake_B vs real_B), D_B judges domain A.
public final class CycleGANModel: ModelRecipe {
    public let configuration: ModelConfiguration
    /// G_A (A→B) and G_B (B→A).
    public let generators: CycleGANGenerators
    public var generatorA: ResnetGenerator { generators.a }
    public var generatorB: ResnetGenerator { generators.b }
    public let discriminatorA: PatchDiscriminator, discriminatorB: PatchDiscriminator
    public let optimizerG: Adam, optimizerD: Adam
    /// Pools of generated B images (for D_A) and A images (for D_B).
    public let poolB: ImagePool, poolA: ImagePool
    /// Unused by CycleGAN's step (no random masks); pools carry their own streams.
    public var generator: RandomGenerator
    /// Told where each phase of the step starts (the benchmark's profile); nil in training.
    public var phases: (any StepPhaseRecorder)?
    public var gradientReducer: any GradientReducer = SingleProcessReducer()

    public init(configuration c: ModelConfiguration, seed: UInt64) {
        configuration = c
        var g = RandomGenerator(seed: seed)
        generators = CycleGANGenerators(configuration: c, using: &g)
        discriminatorA = PatchDiscriminator(configuration: c, using: &g)
        discriminatorB = PatchDiscriminator(configuration: c, using: &g)
        optimizerG = Adam(parameters: generators.a.parameters + generators.b.parameters,
                          learningRate: c.learningRateGenerator, configuration: c)
        optimizerD = Adam(parameters: discriminatorA.parameters + discriminatorB.parameters,
                          learningRate: c.learningRateDiscriminator, configuration: c)
        poolA = ImagePool(capacity: c.poolSize, generator: g.split())
        poolB = ImagePool(capacity: c.poolSize, generator: g.split())
        generator = g.split()
    }

    public var generatorPair: any GeneratorPair { generators }
    public var networks: [(prefix: String, module: any Module)] {
        generators.networks + [("D_A", discriminatorA), ("D_B", discriminatorB)]
    }
    public var optimizers: [(name: String, optimizer: Adam)] { [("G", optimizerG), ("D", optimizerD)] }
    public var pools: [(name: String, pool: ImagePool)] { [("A", poolA), ("B", poolB)] }

    public let declaration = StepDeclaration(
        losses: ["G", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"],
        progressLosses: ["G", "G_A", "G_B", "D_A", "D_B"])
    /// junyanz `unaligned_dataset.py`: max(|A|, |B|) steps, A in shuffled order, B drawn at random.
    public var epochPolicy: UnpairedDataset.EpochPolicy { .cycleGAN }
    /// junyanz resizes with PIL's bicubic filter.
    public var resizeFilter: ResizeFilter { .bicubic }
    /// Constant, then linear decay stepped at each epoch's end (the last epoch keeps 1/(d+1)).
    public func schedule(epochs: Int, decayEpochs: Int) -> LearningRateSchedule {
        .junyanzEnd(constantEpochs: epochs - decayEpochs, decayEpochs: decayEpochs)
    }

    /// Whether the identity terms get their own backward pass before the other generator passes
    /// are built (default; `CYCLEX_SPLIT_IDENTITY=0` runs one backward over the whole loss, as
    /// junyanz's code does, for A/B of memory and time).
    static let separatesIdentityBackward: Bool = ProcessInfo.processInfo.environment["CYCLEX_SPLIT_IDENTITY"] != "0"

    /// junyanz's `optimize_parameters` order (`docs/training.md#cyclegan-step`). The step keeps the
    /// parameters' Winograd transforms between their uses (`WinogradWeightCache`).
    public func trainStep(realA: Tensor, realB: Tensor) throws -> StepReport {
        try WinogradWeightCache.during { try stepWithoutCacheScope(realA: realA, realB: realB) }
    }

    private func stepWithoutCacheScope(realA: Tensor, realB: Tensor) throws -> StepReport {
        let c = configuration
        let (generatorA, generatorB) = (generators.a, generators.b)
        optimizerG.zeroGradients()
        // Identity terms first, with their own backward: they depend on nothing else, so their two
        // generator graphs are freed before the other four are built (peak memory: 4 generator
        // graphs instead of 6). The gradients are the same sums, accumulated in another order.
        let separateIdentity = Self.separatesIdentityBackward
        phases?.begin("G forward ×2 (identity)")
        let idtA = generatorA(realB), idtB = generatorB(realA)
        let lossIdtA = idtA.l1Loss(target: realB) * c.identityWeight
        let lossIdtB = idtB.l1Loss(target: realA) * c.identityWeight
        if separateIdentity {
            phases?.begin("G backward (2 identity passes)")
            try requireFinite(lossIdtA.item + lossIdtB.item, "the generator loss")
            (lossIdtA + lossIdtB).backward(accumulatingInto: optimizerG.parameters, releasingGraph: true)
        }
        phases?.begin("G forward ×4 (fake, rec)")
        let fakeB = generatorA(realA), recA = generatorB(fakeB)
        let fakeA = generatorB(realB), recB = generatorA(fakeA)

        // Generators, discriminators frozen (their parameters receive nothing).
        phases?.begin("D forward ×2 (frozen) and G losses")
        let lossGA = discriminatorA(fakeB).mseLoss(target: 1) * c.adversarialWeight
        let lossGB = discriminatorB(fakeA).mseLoss(target: 1) * c.adversarialWeight
        let lossCycleA = recA.l1Loss(target: realA) * c.cycleWeight
        let lossCycleB = recB.l1Loss(target: realB) * c.cycleWeight
        let lossG: Tensor
        if separateIdentity {
            let rest = lossGA + lossGB + lossCycleA + lossCycleB
            lossG = withoutGradient { rest + lossIdtA + lossIdtB }  // the reported total, same sum as below
            try requireFinite(lossG.item, "the generator loss")
            phases?.begin("G backward (through D, 4 G passes)")
            rest.backward(accumulatingInto: optimizerG.parameters, releasingGraph: true)
        } else {
            lossG = lossGA + lossGB + lossCycleA + lossCycleB + lossIdtA + lossIdtB
            try requireFinite(lossG.item, "the generator loss")
            phases?.begin("G backward (through D, 6 G passes)")
            lossG.backward(accumulatingInto: optimizerG.parameters, releasingGraph: true)
        }
        phases?.begin("Adam G")
        try requireFiniteGradients(optimizerG.parameters, "the generators")
        try gradientReducer.reduceGradients(optimizerG.parameters)
        optimizerG.step()

        // Discriminators, on pooled detached fakes made before the generator update.
        // The two domains' forwards and backwards side by side (`DiscriminatorDomains`); the pool
        // queries stay here, in order. Each backward targets its own D's parameters: the other
        // D is not in its graph, so the gradients are those of the whole list.
        phases?.begin("D forward ×4 (real, pooled fake)")
        optimizerD.zeroGradients()
        let pooledFakeB = try gradientReducer.pooled(poolB, fakeB.detached())
        let pooledFakeA = try gradientReducer.pooled(poolA, fakeA.detached())
        let domains = [(discriminatorA, realB, pooledFakeB), (discriminatorB, realA, pooledFakeA)]
        let lossesD = DiscriminatorDomains.both { i in lsganDiscriminatorLoss(domains[i].0, real: domains[i].1, fake: domains[i].2) }
        let (lossDA, lossDB) = (lossesD[0], lossesD[1])
        try requireFinite(lossDA.item + lossDB.item, "the discriminator loss")
        phases?.begin("D backward ×2")
        _ = DiscriminatorDomains.both { i in lossesD[i].backward(accumulatingInto: domains[i].0.parameters) }
        phases?.begin("Adam D")
        try requireFiniteGradients(optimizerD.parameters, "the discriminators")
        try gradientReducer.reduceGradients(optimizerD.parameters)
        optimizerD.step()
        phases?.begin("report, releasing the step's graph")

        var report = StepReport()
        report.losses = [
            ("G", lossG.item), ("G_A", lossGA.item), ("G_B", lossGB.item), ("cycle_A", lossCycleA.item),
            ("cycle_B", lossCycleB.item), ("idt_A", lossIdtA.item), ("idt_B", lossIdtB.item),
            ("D_A", lossDA.item), ("D_B", lossDB.item),
        ]
        report.tensors = ["fake_B": fakeB.detached(), "rec_A": recA.detached(), "fake_A": fakeA.detached(),
                          "rec_B": recB.detached(), "idt_A": idtA.detached(), "idt_B": idtB.detached()]
        return report
    }
}
