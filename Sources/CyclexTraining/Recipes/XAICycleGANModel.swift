import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexModels
import CyclexNN
import Foundation

/// The xAI-CycleGAN recipe (`docs/training.md#xai-cyclegan-step`): masked generators fed a
/// noise soft mask M ~ N(1, σ²), a primary and a mask discriminator per domain, and λ-adaptive
/// saliency that (a) augments the input mask for the second generation pass and (b) rewrites
/// the gradient at the pre-tanh output of every generator call: g ← g + g ⊙ E
/// (`docs/explanations.md`).
///
/// Naming as the paper's code: G_AB: A→B, G_BA: B→A; D_X / Dm_X judge full / masked images of
/// domain X.
public final class XAICycleGANModel: ModelRecipe {
    public let configuration: ModelConfiguration
    /// G_AB (A→B) and G_BA (B→A).
    public let generators: XAICycleGANGenerators
    public var generatorAB: XaiGenerator { generators.ab }
    public var generatorBA: XaiGenerator { generators.ba }
    public let discriminatorA: PatchDiscriminator, maskDiscriminatorA: PatchDiscriminator
    public let discriminatorB: PatchDiscriminator, maskDiscriminatorB: PatchDiscriminator
    public let optimizerG: Adam, optimizerDA: Adam, optimizerDB: Adam
    /// Separate pools for full fakes and masked fakes, per domain.
    public let poolA: ImagePool, poolMaskedA: ImagePool, poolB: ImagePool, poolMaskedB: ImagePool
    /// Stream of the noise masks.
    public var generator: RandomGenerator
    /// With `false` the step skips every saliency map: no input-mask augmentation, plain tanh
    /// gradients (an ablation, and the baseline for measuring the explanations' cost).
    public var usesExplanations = true
    /// Whether the step drops the generators' previous gradients before its forward passes instead
    /// of just before their backward: they are dead by then, and freeing them first keeps them out
    /// of the step's memory peak (the end of pass 2's forward). Same values either way;
    /// `CYCLEX_XAI_EARLY_ZERO_GRAD=0` drops them late (for A/B).
    public var dropsGeneratorGradientsFirst = ProcessInfo.processInfo.environment["CYCLEX_XAI_EARLY_ZERO_GRAD"] != "0"
    public var gradientReducer: any GradientReducer = SingleProcessReducer()
    /// Receives the step's phases (the benchmark's per-phase profile); nil in training.
    public var phases: (any StepPhaseRecorder)?
    /// Where each generator's explanation rule is attached during the generator backward pass.
    private let ruleAB = GradientRuleSlot(), ruleBA = GradientRuleSlot()

    public init(configuration c: ModelConfiguration, seed: UInt64) {
        configuration = c
        var g = RandomGenerator(seed: seed)
        generators = XAICycleGANGenerators(configuration: c, using: &g)
        discriminatorA = PatchDiscriminator(configuration: c, using: &g)
        maskDiscriminatorA = PatchDiscriminator(configuration: c, using: &g)
        discriminatorB = PatchDiscriminator(configuration: c, using: &g)
        maskDiscriminatorB = PatchDiscriminator(configuration: c, using: &g)
        optimizerG = Adam(parameters: generators.ab.parameters + generators.ba.parameters,
                          learningRate: c.learningRateGenerator, configuration: c)
        optimizerDA = Adam(parameters: discriminatorA.parameters + maskDiscriminatorA.parameters,
                           learningRate: c.learningRateDiscriminator, configuration: c)
        optimizerDB = Adam(parameters: discriminatorB.parameters + maskDiscriminatorB.parameters,
                           learningRate: c.learningRateDiscriminator, configuration: c)
        poolA = ImagePool(capacity: c.poolSize, generator: g.split())
        poolMaskedA = ImagePool(capacity: c.poolSize, generator: g.split())
        poolB = ImagePool(capacity: c.poolSize, generator: g.split())
        poolMaskedB = ImagePool(capacity: c.poolSize, generator: g.split())
        generator = g.split()
        generators.ab.outputGradientRule = ruleAB.outputGradientRule
        generators.ba.outputGradientRule = ruleBA.outputGradientRule
    }

    public var generatorPair: any GeneratorPair { generators }
    public var networks: [(prefix: String, module: any Module)] {
        generators.networks + [("D_A", discriminatorA), ("Dm_A", maskDiscriminatorA),
                               ("D_B", discriminatorB), ("Dm_B", maskDiscriminatorB)]
    }
    public var optimizers: [(name: String, optimizer: Adam)] { [("G", optimizerG), ("D_A", optimizerDA), ("D_B", optimizerDB)] }
    public var pools: [(name: String, pool: ImagePool)] {
        [("A", poolA), ("Am", poolMaskedA), ("B", poolB), ("Bm", poolMaskedB)]
    }

    public let declaration = StepDeclaration(
        losses: ["G", "adv_AB", "adv_BA", "cycle", "cyc_A", "cyc_B", "idt", "idt_A", "idt_B", "D_A", "D_B"],
        progressLosses: ["G", "adv_AB", "adv_BA", "D_A", "D_B"],
        lambdas: [("lambda_D_B", "D_B"), ("lambda_Dm_B", "Dm_B"), ("lambda_D_A", "D_A"), ("lambda_Dm_A", "Dm_A")],
        loggedDiagnostics: ["pass1.loss_Dm_B", "pass1.loss_Dm_A", "pass1.lambda_B", "pass1.lambda_A",
                            "x_D_B", "x_Dm_B", "x_D_A", "x_Dm_A",
                            "lambda_D_B", "lambda_Dm_B", "lambda_D_A", "lambda_Dm_A"])
    /// The paper's code iterates two independently shuffled loaders in lockstep (`zip`), so an
    /// epoch has min(|A|, |B|) steps (`docs/training.md#epoch-policies`).
    public var epochPolicy: UnpairedDataset.EpochPolicy { .zipShuffled }
    /// The paper's loader resizes bilinearly.
    public var resizeFilter: ResizeFilter { .bilinear }
    /// Linear decay after `epochs − decayEpochs` epochs, stepped at each epoch's end, reaching 0
    /// after the last epoch (the paper's schedule: decay from epoch 25 of 50).
    public func schedule(epochs: Int, decayEpochs: Int) -> LearningRateSchedule {
        .decayAfter(decayStart: epochs - decayEpochs, totalEpochs: epochs)
    }

    /// A fresh noise mask N(1, σ²) shaped like `images`. In a data-parallel run every replica draws
    /// the global batch's mask and keeps its rows (`GradientReducer.localRows`), so the stream stays
    /// replicated and each sample gets the mask one process would give it.
    public func noiseMask(like images: Tensor) -> Tensor {
        gradientReducer.localRows(ofGlobalDraw: images.shape) { shape in
            Tensor(randomNormal: shape, mean: 1, standardDeviation: configuration.maskStandardDeviation, using: &generator)
        }
    }

    /// λ(x) with the configured γ.
    func lambda(_ x: Float) -> Float { Explanation.lambda(x, gamma: configuration.gamma) }

    public func trainStep(realA: Tensor, realB: Tensor) throws -> StepReport {
        try trainStep(realA: realA, realB: realB, maskA: noiseMask(like: realA), maskB: noiseMask(like: realB))
    }

    /// One step with the given noise masks (`docs/training.md#xai-cyclegan-step`; the order is
    /// the fixtures'): mask augmentation, the generators' pass with graph, their losses and
    /// explanation-guided update, then each domain's discriminators.
    /// The step keeps the parameters' Winograd transforms between their uses (`WinogradWeightCache`).
    public func trainStep(realA: Tensor, realB: Tensor, maskA: Tensor, maskB: Tensor) throws -> StepReport {
        try WinogradWeightCache.during { try stepWithoutCacheScope(realA: realA, realB: realB, maskA: maskA, maskB: maskB) }
    }

    private func stepWithoutCacheScope(realA: Tensor, realB: Tensor, maskA: Tensor, maskB: Tensor) throws -> StepReport {
        var report = StepReport()
        if dropsGeneratorGradientsFirst { optimizerG.zeroGradients() }
        phases?.begin("pass 1: 2 G forwards (explanation)")
        let (maskAugA, maskAugB) = !usesExplanations ? (maskA, maskB)
            : try augmentedMasks(realA: realA, realB: realB, maskA: maskA, maskB: maskB, into: &report,
                                 averaging: gradientReducer.averaged)
        report.keep("M_A_aug", maskAugA); report.keep("M_B_aug", maskAugB)

        // With the identity terms deferred, their two generator calls run (with graph) after the
        // backward of the other terms, so only four generator graphs are alive at once.
        let deferIdentity = Self.separatesIdentityBackward
        phases?.begin("pass 2: 4 or 6 G forwards")
        let pass = SecondPass(self, realA: realA, realB: realB, maskA: maskAugA, maskB: maskAugB, withIdentity: !deferIdentity)
        phases?.begin("pass 2: 4 D forwards, G losses")
        let judged = JudgedFakes(self, fakeB: pass.fakeB, fakeA: pass.fakeA, maskAugA: maskAugA, maskAugB: maskAugB)
        let terms = adversarialAndCycleLosses(pass, judged, realA: realA, realB: realB)
        var identity = pass.identity.map { identityLosses($0, realA: realA, realB: realB) }
        try requireFinite(identity.map { terms.sum + $0.loss }.map(\.item) ?? terms.sum.item, "the generator loss")
                let explained = !usesExplanations ? nil : try explainCurrentDiscriminators(
            realA: realA, realB: realB, judged: judged, maskAugA: maskAugA, maskAugB: maskAugB, into: &report,
            averaging: gradientReducer.averaged)
        phases?.begin("G backward (through D) and Adam")
        try updateGenerators(maps: explained?.maps) {
            if let identity {
                (terms.sum + identity.loss).backward(accumulatingInto: optimizerG.parameters, releasingGraph: true)
                return
            }
            terms.sum.backward(accumulatingInto: optimizerG.parameters, releasingGraph: true)
            phases?.begin("G identity forwards ×2 and their backward")
            let deferred = identityLosses(SecondPass.identityCalls(self, realA: realA, realB: realB, maskA: maskAugA, maskB: maskAugB),
                                          realA: realA, realB: realB)
            try requireFinite(withoutGradient { terms.sum + deferred.loss }.item, "the generator loss")
            deferred.loss.backward(accumulatingInto: optimizerG.parameters, releasingGraph: true)
            identity = deferred
        }
        let losses = GeneratorLosses(terms, identity!)
        phases?.begin("D updates (real scores unless shared)")

        let lossesD = try updateDiscriminators([
            DiscriminatorUpdate(domain: "A", optimizer: optimizerDA, d: discriminatorA, dm: maskDiscriminatorA,
                                real: realA, realMask: maskAugA, fake: pass.fakeA, fakeMask: maskAugB,
                                realScores: explained?.realScoresA, pool: poolA, maskedPool: poolMaskedA),
            DiscriminatorUpdate(domain: "B", optimizer: optimizerDB, d: discriminatorB, dm: maskDiscriminatorB,
                                real: realB, realMask: maskAugB, fake: pass.fakeB, fakeMask: maskAugA,
                                realScores: explained?.realScoresB, pool: poolB, maskedPool: poolMaskedB),
        ])
        let (lossDA, lossDB) = (lossesD[0], lossesD[1])

        report.losses = losses.named + [("D_A", lossDA.item), ("D_B", lossDB.item)]
        phases?.begin("report")
        for (name, t) in pass.named + identity!.named { report.keep(name, t) }
        return report
    }

    /// Pass 1, no gradient: each generator's output under the drawn mask is judged by the other
    /// domain's mask discriminator; that discriminator's saliency, weighted by λ of its loss, is
    /// added to the mask (`docs/explanations.md#input-mask-augmentation`). Returns M_A', M_B'.
    /// `averaging` turns the local λ inputs (losses, means over this batch) into the global
    /// batch's (`GradientReducer.averaged` in training; the identity for the probes).
    func augmentedMasks(realA: Tensor, realB: Tensor, maskA: Tensor, maskB: Tensor,
                        into report: inout StepReport,
                        averaging: ([Float]) throws -> [Float]) rethrows -> (Tensor, Tensor) {
        let (dmA, dmB) = (maskDiscriminatorA, maskDiscriminatorB)
        return try withoutGradient { () throws -> (Tensor, Tensor) in
            // The two generators' passes are independent too: side by side.
            let outputs = Explanation.independently(2) { i in
                i == 0 ? firstPassOutput(generatorAB, realA, mask: maskA) : firstPassOutput(generatorBA, realB, mask: maskB)
            }
            let (yB, yA) = (outputs[0], outputs[1])
            phases?.begin("pass 1: 2 Dm saliency maps (explanation)")
            // The two mask discriminators' passes are independent: side by side (`Explanation.independently`).
            let (maskedB, maskedA) = (yB * maskA, yA * maskB)
            let saliency = Explanation.independently(2) { i in
                i == 0 ? Explanation.patchSaliency(of: dmB, at: maskedB) : Explanation.patchSaliency(of: dmA, at: maskedA)
            }
            let ((inputSaliencyB, mapB, argB), (inputSaliencyA, mapA, argA)) = (saliency[0], saliency[1])
            phases?.begin("pass 1: 2 Dm real scores, λ, M' (explanation)")
            let realScores = Explanation.independently(2) { i in
                i == 0 ? firstPassScores(dmB, realB * maskB) : firstPassScores(dmA, realA * maskA)
            }
            // The fake half of each loss reuses the saliency pass's patch map (same D, same input).
            let shared = Self.sharesDiscriminatorPasses
            let lossDmB = lsganDiscriminatorLoss(realScores: realScores[0], fakeScores: shared ? mapB : dmB(maskedB))
            let lossDmA = lsganDiscriminatorLoss(realScores: realScores[1], fakeScores: shared ? mapA : dmA(maskedA))
            let losses = try averaging([lossDmB.item, lossDmA.item])
            let (lambdaB, lambdaA) = (lambda(losses[0]), lambda(losses[1]))
            report.keep("pass1.y_B", yB); report.keep("pass1.y_A", yA)
            report.keep("pass1.saliency_Dm_B", inputSaliencyB); report.keep("pass1.saliency_Dm_A", inputSaliencyA)
            report.keep("pass1.patch_map_Dm_B", mapB); report.keep("pass1.patch_map_Dm_A", mapA)
            report.diagnostics += [("pass1.loss_Dm_B", losses[0]), ("pass1.loss_Dm_A", losses[1]),
                                   ("pass1.lambda_B", lambdaB), ("pass1.lambda_A", lambdaA),
                                   ("pass1.argmax_Dm_B", Float(argB[0])), ("pass1.argmax_Dm_A", Float(argA[0]))]
            return (maskA + inputSaliencyB * lambdaB, maskB + inputSaliencyA * lambdaA)
        }
    }

    /// Whether pass 1 runs the generators on the inference-only forward (`XaiInferenceForward`: no
    /// autodiff ops, fused norm + activation in place, its own kernels), which gives the training
    /// forward's values to float rounding at a fraction of its time. `CYCLEX_XAI_PASS1_INFERENCE=0`
    /// runs the training forward without recording instead (for A/B).
    static let firstPassUsesInferenceForward: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_XAI_PASS1_INFERENCE"] != "0"

    /// One generator's pass-1 output under the drawn mask, without gradient.
    private func firstPassOutput(_ g: XaiGenerator, _ x: Tensor, mask: Tensor) -> Tensor {
        Self.firstPassUsesInferenceForward ? XaiInferenceForward(g)(x, mask: mask) : g(x, mask: mask)
    }

    /// Whether the identity terms' two generator calls run after the backward of the other terms
    /// (inside the same explanation rules), so that four generator graphs are alive at once instead
    /// of six (default); `CYCLEX_SPLIT_IDENTITY=0` records all six first and runs one backward (for
    /// A/B). The gradients are the same sums, added in another order.
    static let separatesIdentityBackward: Bool = ProcessInfo.processInfo.environment["CYCLEX_SPLIT_IDENTITY"] != "0"

    /// A mask discriminator's pass-1 scores of masked real images (numbers only), on the
    /// inference forward with the generators' (`CYCLEX_XAI_PASS1_INFERENCE=0`: the training op).
    private func firstPassScores(_ d: PatchDiscriminator, _ x: Tensor) -> Tensor {
        Self.firstPassUsesInferenceForward ? PatchDiscriminatorInferenceForward(d)(x) : d(x)
    }

    /// Pass 2, with graph: the generator calls under the augmented masks, in the fixtures' order
    /// (the identity calls only `withIdentity`; otherwise `identityCalls` makes them later).
    struct SecondPass {
        let fakeB: Tensor, recA: Tensor, fakeA: Tensor, recB: Tensor
        /// idt_A = G_BA(real_A, M_A'), idt_B = G_AB(real_B, M_B').
        let identity: (idtA: Tensor, idtB: Tensor)?
        /// The augmented masks M_A', M_B'.
        let maskA: Tensor, maskB: Tensor

        init(_ model: XAICycleGANModel, realA: Tensor, realB: Tensor, maskA: Tensor, maskB: Tensor, withIdentity: Bool = true) {
            let (ab, ba) = (model.generatorAB, model.generatorBA)
            fakeB = ab(realA, mask: maskA)
            recA = ba(fakeB, mask: maskA)
            let idtA = withIdentity ? ba(realA, mask: maskA) : nil
            fakeA = ba(realB, mask: maskB)
            recB = ab(fakeA, mask: maskB)
            let idtB = withIdentity ? ab(realB, mask: maskB) : nil
            identity = withIdentity ? (idtA!, idtB!) : nil
            (self.maskA, self.maskB) = (maskA, maskB)
        }

        /// The two identity calls, with graph.
        static func identityCalls(_ model: XAICycleGANModel, realA: Tensor, realB: Tensor, maskA: Tensor, maskB: Tensor)
            -> (idtA: Tensor, idtB: Tensor)
        {
            (model.generatorBA(realA, mask: maskA), model.generatorAB(realB, mask: maskB))
        }

        var named: [(String, Tensor)] { [("fake_B", fakeB), ("rec_A", recA), ("fake_A", fakeA), ("rec_B", recB)] }
    }

    /// The adversarial and cycle terms of the generator loss and their weighted sum.
    struct AdversarialAndCycleTerms {
        let advAB: Tensor, advBA: Tensor, cycle: Tensor, cycA: Tensor, cycB: Tensor
        /// advAB + advBA + cycle.
        let sum: Tensor
    }

    /// The identity terms: the calls' outputs, their L1 losses and the weighted sum.
    struct IdentityTerms {
        let idtA: Tensor, idtB: Tensor, lossA: Tensor, lossB: Tensor
        /// (lossA + lossB) · identity weight.
        let loss: Tensor
        var named: [(String, Tensor)] { [("idt_A", idtA), ("idt_B", idtB)] }
    }

    /// The generator loss and its terms (`docs/training.md#xai-cyclegan-losses-and-weights`).
    struct GeneratorLosses {
        let total: Tensor, advAB: Tensor, advBA: Tensor, cycle: Tensor, cycA: Tensor, cycB: Tensor
        let idt: Tensor, idtA: Tensor, idtB: Tensor

        /// total = advAB + advBA + cycle + identity (its value only: the backward ran on the parts).
        init(_ t: AdversarialAndCycleTerms, _ i: IdentityTerms) {
            total = withoutGradient { t.sum + i.loss }
            (advAB, advBA, cycle, cycA, cycB) = (t.advAB, t.advBA, t.cycle, t.cycA, t.cycB)
            (idt, idtA, idtB) = (i.loss, i.lossA, i.lossB)
        }

        /// Under the declared loss names.
        var named: [(name: String, value: Float)] {
            [("G", total.item), ("adv_AB", advAB.item), ("adv_BA", advBA.item), ("cycle", cycle.item),
             ("cyc_A", cycA.item), ("cyc_B", cycB.item), ("idt", idt.item), ("idt_A", idtA.item), ("idt_B", idtB.item)]
        }
    }

    /// Adversarial terms against the own-domain discriminators (mask share r) and the masked
    /// cycle loss, weighted as configured.
    func adversarialAndCycleLosses(_ pass: SecondPass, _ judged: JudgedFakes, realA: Tensor, realB: Tensor)
        -> AdversarialAndCycleTerms
    {
        let c = configuration
        let r = c.maskAdversarialRatio
        let advAB = (judged.scoresDmB.mseLoss(target: 1) * r + judged.scoresDB.mseLoss(target: 1) * (1 - r))
            * c.adversarialWeight
        let advBA = (judged.scoresDmA.mseLoss(target: 1) * r + judged.scoresDA.mseLoss(target: 1) * (1 - r))
            * c.adversarialWeight
        func cycle(_ rec: Tensor, _ real: Tensor, _ m: Tensor) -> Tensor {
            let inverse = 1 - m
            return (rec * m).l1Loss(target: real * m) * c.maskCycleRatio
                + (rec * inverse).l1Loss(target: real * inverse) * (1 - c.maskCycleRatio)
        }
        let cycA = cycle(pass.recA, realA, pass.maskA), cycB = cycle(pass.recB, realB, pass.maskB)
        let lossCycle = (cycA + cycB) * c.cycleWeight
        return AdversarialAndCycleTerms(advAB: advAB, advBA: advBA, cycle: lossCycle, cycA: cycA, cycB: cycB,
                                        sum: advAB + advBA + lossCycle)
    }

    /// The identity loss of the two identity calls, weighted as configured.
    func identityLosses(_ calls: (idtA: Tensor, idtB: Tensor), realA: Tensor, realB: Tensor) -> IdentityTerms {
        let lossA = calls.idtA.l1Loss(target: realA), lossB = calls.idtB.l1Loss(target: realB)
        return IdentityTerms(idtA: calls.idtA, idtB: calls.idtB, lossA: lossA, lossB: lossB,
                             loss: (lossA + lossB) * configuration.identityWeight)
    }

    /// The generators' update: `backward` runs the backward pass(es) of the generator loss while
    /// the explanation maps (when given) are applied at every generator call's pre-tanh output,
    /// E_B for G_AB and E_A for G_BA, for this update only.
    func updateGenerators(maps: ExplanationMaps?, backward: () throws -> Void) throws {
        optimizerG.zeroGradients()
        try ruleAB.applying(maps.map { GradientRules.xaiCycleGAN(explanation: $0.forAB) }) {
            try ruleBA.applying(maps.map { GradientRules.xaiCycleGAN(explanation: $0.forBA) }) {
                try backward()
            }
        }
        try requireFiniteGradients(optimizerG.parameters, "the generators")
        try gradientReducer.reduceGradients(optimizerG.parameters)
        optimizerG.step()
    }

    /// One domain's discriminators, D and Dm, their optimizer and what they are updated on.
    struct DiscriminatorUpdate {
        let domain: String
        let optimizer: Adam
        let d: PatchDiscriminator, dm: PatchDiscriminator
        /// Real images of the domain and the mask Dm sees them under; fakes of the domain (pass 2,
        /// pooled after detaching) and the mask of the fake half.
        let real: Tensor, realMask: Tensor, fake: Tensor, fakeMask: Tensor
        /// D(real), Dm(real ⊙ mask) recorded with graph during the explanation, when shared.
        let realScores: RealScores?
        let pool: ImagePool, maskedPool: ImagePool
    }

    /// Each domain's update of D and Dm on pooled, detached pass-2 fakes (full and masked fakes in
    /// separate pools), checked before the weights change; returns the domains' losses.
    ///
    /// The pool queries, the finite checks, the gradient reduction and the optimizer updates run
    /// on this thread in the domains' order; the forwards and the backwards of the domains run
    /// side by side (`DiscriminatorDomains`), which gives the same bits. Only when a check fails
    /// does the order differ from one domain after the other: the later domain's pools have then
    /// been queried too (the step throws and training ends, so nothing reads them).
    func updateDiscriminators(_ domains: [DiscriminatorUpdate]) throws -> [Tensor] {
        precondition(domains.count == 2, "two domains")
        let r = configuration.maskAdversarialRatio
        let pooled = try domains.map { x in
            x.optimizer.zeroGradients()
            return (full: try gradientReducer.pooled(x.pool, x.fake.detached()),
                    masked: try gradientReducer.pooled(x.maskedPool, withoutGradient { x.fake * x.fakeMask }))
        }
        let losses = DiscriminatorDomains.both { i in
            let (x, fakes) = (domains[i], pooled[i])
            let realD = x.realScores?.d ?? x.d(x.real), realDm = x.realScores?.dm ?? x.dm(x.real * x.realMask)
            return lsganDiscriminatorLoss(realScores: realD, fakeScores: x.d(fakes.full)) * (1 - r)
                + lsganDiscriminatorLoss(realScores: realDm, fakeScores: x.dm(fakes.masked)) * r
        }
        for (x, loss) in zip(domains, losses) { try requireFinite(loss.item, "the domain-\(x.domain) discriminator loss") }
        _ = DiscriminatorDomains.both { i in losses[i].backward(accumulatingInto: domains[i].optimizer.parameters) }
        for x in domains {
            try requireFiniteGradients(x.optimizer.parameters, "the domain-\(x.domain) discriminators")
            try gradientReducer.reduceGradients(x.optimizer.parameters)
            x.optimizer.step()
        }
        return losses
    }

    /// Whether the step shares discriminator passes: the patch maps of the pass-2 fakes serve the
    /// generator loss, the saliency maps and λ; the real images' maps serve λ and the
    /// discriminator update; pass 1's saliency map serves its loss. `CYCLEX_XAI_SHARED=0` runs
    /// every use on its own forward pass instead (the same numbers, for A/B timing).
    static let sharesDiscriminatorPasses: Bool = ProcessInfo.processInfo.environment["CYCLEX_XAI_SHARED"] != "0"

    /// The discriminators' patch maps of the pass-2 fakes of one step, computed once with graph.
    /// The generator loss's adversarial terms back-propagate through them into the generators;
    /// the saliency maps differentiate their highest scores with respect to the same inputs.
    struct JudgedFakes {
        /// D_B's input fake_B, Dm_B's input fake_B ⊙ M_A', and the same for domain A (graph-carrying
        /// in a step; gradient-carrying copies when the fakes came without graph, as for the probes).
        let fakeB: Tensor, maskedFakeB: Tensor, fakeA: Tensor, maskedFakeA: Tensor
        /// D_B(fake_B), Dm_B(fake_B ⊙ M_A'), D_A(fake_A), Dm_A(fake_A ⊙ M_B').
        let scoresDB: Tensor, scoresDmB: Tensor, scoresDA: Tensor, scoresDmA: Tensor

        init(_ model: XAICycleGANModel, fakeB: Tensor, fakeA: Tensor, maskAugA: Tensor, maskAugB: Tensor) {
            func input(_ t: Tensor) -> Tensor { t.requiresGradient ? t : Tensor.leafRequiringGradient(copying: t) }
            let (inputB, inputA) = (input(fakeB), input(fakeA))
            let (maskedB, maskedA) = withGradient { (inputB * maskAugA, inputA * maskAugB) }
            (self.fakeB, self.fakeA, maskedFakeB, maskedFakeA) = (inputB, inputA, maskedB, maskedA)
            (scoresDB, scoresDmB, scoresDA, scoresDmA) = withGradient {
                (model.discriminatorB(inputB), model.maskDiscriminatorB(maskedB),
                 model.discriminatorA(inputA), model.maskDiscriminatorA(maskedA))
            }
        }
    }

    /// One domain's discriminator scores of its real images, D(real) and Dm(real ⊙ M'), recorded
    /// with graph when computed for λ so the discriminator update can reuse them (its weights do
    /// not change in between).
    struct RealScores {
        let d: Tensor, dm: Tensor
    }

    /// What explaining the current discriminators yields: the maps for the generators' update and
    /// the real images' scores for the discriminators' update.
    struct Explained {
        let maps: ExplanationMaps
        let realScoresA: RealScores?, realScoresB: RealScores?
    }

    /// The explanation maps of one step, passed to the generators' gradient rules.
    struct ExplanationMaps {
        /// E_B, from domain B's discriminators: rewrites G_AB's gradients.
        let forAB: Tensor
        /// E_A, from domain A's discriminators: rewrites G_BA's gradients.
        let forBA: Tensor
    }

    /// The explanation maps (`docs/explanations.md#explanation-map`) from the current (not yet
    /// updated) discriminators on the pass-2 fakes, whose patch maps `judged` holds; their saliency
    /// maps, patch maps, λ inputs, λ values and the maps themselves are also recorded in `report`
    /// for tests and the log.
    func explainCurrentDiscriminators(
        realA: Tensor, realB: Tensor, judged shared: JudgedFakes, maskAugA: Tensor, maskAugB: Tensor,
        into report: inout StepReport, averaging: ([Float]) throws -> [Float]
    ) rethrows -> Explained {
        let c = configuration
        let r = c.maskAdversarialRatio
        let (dA, dmA, dB, dmB) = (discriminatorA, maskDiscriminatorA, discriminatorB, maskDiscriminatorB)
        let sharing = Self.sharesDiscriminatorPasses
        // Without sharing, every use runs its own forward pass on detached copies (A/B baseline).
        let judged = sharing ? shared
            : JudgedFakes(self, fakeB: shared.fakeB.detached(), fakeA: shared.fakeA.detached(), maskAugA: maskAugA, maskAugB: maskAugB)
        phases?.begin("pass 2: 4 saliency maps (explanation)")
        // Four walks through four discriminators' graphs: independent, so side by side.
        let walks = [(judged.scoresDB, judged.fakeB), (judged.scoresDmB, judged.maskedFakeB),
                     (judged.scoresDA, judged.fakeA), (judged.scoresDmA, judged.maskedFakeA)]
        let saliency = Explanation.independently(4) { i in
            Explanation.patchSaliency(ofScores: walks[i].0, withRespectTo: walks[i].1)
        }
        let (saliencyDB, saliencyDmB, saliencyDA, saliencyDmA) = (saliency[0], saliency[1], saliency[2], saliency[3])
        let (mapDB, mapDmB, mapDA, mapDmA) = (judged.scoresDB.detached(), judged.scoresDmB.detached(),
                                              judged.scoresDA.detached(), judged.scoresDmA.detached())
        phases?.begin("pass 2: 4 real scores (reused by the D update), λ, E (explanation)")
        // The real images' scores, recorded for the discriminator update when shared.
        let scores = Explanation.independently(4) { i in
            switch i {
            case 0: dB(realB)
            case 1: dmB(realB * maskAugB)
            case 2: dA(realA)
            default: dmA(realA * maskAugA)
            }
        }
        let realScoresB = RealScores(d: scores[0], dm: scores[1])
        let realScoresA = RealScores(d: scores[2], dm: scores[3])
        // λ inputs: the pre-weighted LSGAN losses of each discriminator on the pass-2 fakes.
        let (xDB, xDmB, xDA, xDmA) = withoutGradient {
            (lsganDiscriminatorLoss(realScores: realScoresB.d, fakeScores: mapDB) * (1 - r),
             lsganDiscriminatorLoss(realScores: realScoresB.dm, fakeScores: mapDmB) * r,
             lsganDiscriminatorLoss(realScores: realScoresA.d, fakeScores: mapDA) * (1 - r),
             lsganDiscriminatorLoss(realScores: realScoresA.dm, fakeScores: mapDmA) * r)
        }
        // Means over the global batch in a data-parallel run (`averaging`), so λ is one number per
        // discriminator for the whole batch, as in one process.
        let x = try averaging([xDB.item, xDmB.item, xDA.item, xDmA.item])
        let (lDB, lDmB, lDA, lDmA) = (lambda(x[0]), lambda(x[1]), lambda(x[2]), lambda(x[3]))
        func explanation(_ s: Tensor, _ sm: Tensor, _ l: Float, _ lm: Float) -> Tensor {
            Explanation.xaiCycleGANMap(saliency: s, maskSaliency: sm, lambda: l, maskLambda: lm, maskShare: r)
        }
        let sameDomain = c.lambdaSource == .sameDomain
        let mapB = explanation(saliencyDB, saliencyDmB, sameDomain ? lDB : lDA, sameDomain ? lDmB : lDmA)
        let mapA = explanation(saliencyDA, saliencyDmA, sameDomain ? lDA : lDB, sameDomain ? lDmA : lDmB)
        let (argDB, argDmB, argDA, argDmA) = (mapDB.spatialArgmax(), mapDmB.spatialArgmax(),
                                              mapDA.spatialArgmax(), mapDmA.spatialArgmax())
        report.diagnostics += [
            ("x_D_B", x[0]), ("x_Dm_B", x[1]), ("x_D_A", x[2]), ("x_Dm_A", x[3]),
            ("lambda_D_B", lDB), ("lambda_Dm_B", lDmB), ("lambda_D_A", lDA), ("lambda_Dm_A", lDmA),
            ("argmax_D_B", Float(argDB[0])), ("argmax_Dm_B", Float(argDmB[0])),
            ("argmax_D_A", Float(argDA[0])), ("argmax_Dm_A", Float(argDmA[0])),
        ]
        for (name, t) in [("saliency_D_B", saliencyDB), ("saliency_Dm_B", saliencyDmB), ("saliency_D_A", saliencyDA),
                          ("saliency_Dm_A", saliencyDmA), ("patch_map_D_B", mapDB), ("patch_map_Dm_B", mapDmB),
                          ("patch_map_D_A", mapDA), ("patch_map_Dm_A", mapDmA), ("E_B", mapB), ("E_A", mapA)] {
            report.tensors[name] = t.detached()
        }
        return Explained(maps: ExplanationMaps(forAB: mapB, forBA: mapA),
                         realScoresA: sharing ? realScoresA : nil, realScoresB: sharing ? realScoresB : nil)
    }
}

extension StepReport {
    /// Keeps a detached copy of `tensor` under `name` (for tests).
    mutating func keep(_ name: String, _ tensor: Tensor) { tensors[name] = tensor.detached() }
}
