import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Testing

/// One xAI-GAN and one LogicGAN training step against `fixtures/steps` (docs/training.md#xai-gan-step,
/// docs/training.md#logicgan-step).
/// Network widths, image shape, batch size and optimiser settings come from the file.
struct SingleGANStepTests {
    func model(_ f: Fixture, method: SingleGANModel.Method) throws -> SingleGANModel {
        var g = RandomGenerator(seed: 1)
        let c = f.config
        let image = Array(try f.shape("real").dropFirst())
        let generator = DenseGenerator(noiseSize: try c["DenseGenerator"]["nz"].int(),
                                       hidden: try c["DenseGenerator"]["hidden"].ints(), imageShape: image, using: &g)
        let discriminator = DenseDiscriminator(imageShape: image, hidden: try c["DenseDiscriminator"]["hidden"].ints(),
                                               using: &g)
        #expect(try c["DenseDiscriminator"]["dropout"].string() == "disabled")
        discriminator.isTraining = false  // the fixtures disable dropout
        try generator.load { try f.tensor("before.G.\($0)") }
        try discriminator.load { try f.tensor("before.D.\($0)") }
        let m = SingleGANModel(method: method, generator: generator, discriminator: discriminator,
                               learningRate: try c["adam"]["lr"].float())
        let betas = try c["adam"]["betas"].doubles()
        for optimizer in [m.optimizerG, m.optimizerD] {
            (optimizer.beta1, optimizer.beta2) = (betas[0], betas[1])
            optimizer.epsilon = try c["adam"]["eps"].float()
            optimizer.weightDecay = try c["adam"]["weight_decay"].float()
        }
        m.maximumGradientNorm = try c["max_norm"].float()
        return m
    }

    func check(_ f: Fixture, _ m: SingleGANModel, _ report: StepReport) throws {
        for name in ["fake_D", "fake_G", "M"] {
            try f.expectMatch(try #require(report.tensors[name], "\(name) missing"), name)
        }
        // The discriminator gives [N, 1]; the reference flattens its predictions to [N] for BCE.
        for name in ["pred_real", "pred_fake", "pred_G"] {
            let prediction = try #require(report.tensors[name], "\(name) missing")
            try f.expectMatch(prediction.reshaped(to: [prediction.count]), name)
        }
        for (mine, theirs) in [("D_real", "loss_D_real"), ("D_fake", "loss_D_fake"), ("G", "loss_G")] {
            try f.expectMatch(try #require(report[loss: mine]), theirs)
        }
        if f.contains("loss_D") { try f.expectMatch(try #require(report[loss: "D"]), "loss_D") }
        for name in ["total_norm", "clip_coef"] {
            try f.expectMatch(try #require(report[diagnostic: name]), name)
        }
        for (prefix, module) in [("D", m.discriminator as any Module), ("G", m.generator as any Module)] {
            for (name, p) in module.namedParameters {
                try f.expectMatch(try #require(p.gradient), "grad.\(prefix).\(name)")
                if prefix == "G" {
                    try f.expectMatch(try #require(report.tensors["grad_unclipped.\(name)"]), "grad_unclipped.G.\(name)")
                }
                try f.expectMatch(p, "after.\(prefix).\(name)")
            }
        }
    }

    @Test func xaiGANStep() throws {
        let f = try Fixture.load("steps/xaigan_step")
        let m = try model(f, method: .xaiGAN)
        let report = try m.trainStep(real: try f.tensor("real"), noiseForD: try f.tensor("z_D"),
                                     noiseForG: try f.tensor("z_G"), explain: true)
        try f.expectMatch(try #require(report.tensors["attributions"]), "saliency")
        let batch = try f.shape("real")[0]
        let rejected = (0..<batch).map { Int(report[diagnostic: "rejected.\($0)"] ?? -1) }
        try f.expectMatch(rejected, shape: [batch], "explained")
        try check(f, m, report)
    }

    @Test func logicGANStep() throws {
        let f = try Fixture.load("steps/logicgan_step")
        let m = try model(f, method: .logicGAN)
        let report = try m.trainStep(real: try f.tensor("real"), noiseForD: try f.tensor("z_D"),
                                     noiseForG: try f.tensor("z_G"), explain: true,
                                     attributions: try f.tensor("shap_values"))
        try check(f, m, report)
    }
}
