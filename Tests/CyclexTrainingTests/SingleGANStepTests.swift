import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Testing

/// One xAI-GAN and one LogicGAN training step against `fixtures/steps` (SPEC §4.3, §5.2–5.3).
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct SingleGANStepTests {
    func expectClose(_ f: Fixture, _ t: Tensor, _ name: String) throws {
        let c = try f.compare(t, with: name)
        #expect(c.passed, "\(c)")
    }

    func model(_ f: Fixture, method: SingleGANModel.Method, image: [Int]) throws -> SingleGANModel {
        var g = RandomGenerator(seed: 1)
        let generator = DenseGenerator(noiseSize: 100, hidden: [32, 64, 96], imageShape: image, using: &g)
        let discriminator = DenseDiscriminator(imageShape: image, hidden: [96, 64, 32], using: &g)
        discriminator.isTraining = false  // the fixtures disable dropout
        try generator.load { try f.tensor("before.G.\($0)") }
        try discriminator.load { try f.tensor("before.D.\($0)") }
        return SingleGANModel(method: method, generator: generator, discriminator: discriminator)
    }

    func check(_ f: Fixture, _ m: SingleGANModel, _ report: StepReport) throws {
        for name in ["fake_D", "pred_real", "pred_fake", "fake_G", "pred_G", "M"] {
            try expectClose(f, try #require(report.tensors[name], "\(name) missing"), name)
        }
        for (mine, theirs) in [("D_real", "loss_D_real"), ("D_fake", "loss_D_fake"), ("G", "loss_G")] {
            try expectClose(f, Tensor(try #require(report[loss: mine])), theirs)
        }
        if f.contains("loss_D") { try expectClose(f, Tensor(try #require(report[loss: "D"])), "loss_D") }
        for name in ["total_norm", "clip_coef"] {
            try expectClose(f, Tensor(try #require(report[diagnostic: name])), name)
        }
        let check = try #require(f.config["adam_check"] as? [String: [String: Double]])
        for (prefix, module) in [("D", m.discriminator as any Module), ("G", m.generator as any Module)] {
            let (lr, tau) = (Float(check[prefix]!["lr"]!), Float(check[prefix]!["tau"]!))
            for (name, p) in module.namedParameters {
                try expectClose(f, try #require(p.gradient), "grad.\(prefix).\(name)")
                if prefix == "G" {
                    try expectClose(f, try #require(report.tensors["grad_unclipped.\(name)"]), "grad_unclipped.G.\(name)")
                }
                let gradRef = try f.floats("grad.\(prefix).\(name)").values
                let after = try f.floats("after.\(prefix).\(name)")
                let c = Comparison(label: "after.\(prefix).\(name)", actual: p.scalars, actualShape: p.shape,
                                   reference: after.values, referenceShape: after.shape, atol: 1e-5,
                                   perElementTolerance: gradRef.map { abs($0) >= tau ? 1e-5 : 2.05 * lr })
                #expect(c.passed, "\(c)")
            }
        }
    }

    @Test func xaiGANStep() throws {
        let f = try #require(try Fixture.load("steps/xaigan_step"))
        let m = try model(f, method: .xaiGAN, image: [1, 32, 32])
        let report = try m.trainStep(real: try f.tensor("real"), noiseForD: try f.tensor("z_D"),
                                     noiseForG: try f.tensor("z_G"), explain: true)
        try expectClose(f, try #require(report.tensors["attributions"]), "saliency")
        let rejected = (0..<8).map { UInt8(report[diagnostic: "rejected.\($0)"] ?? -1) }
        #expect(rejected == (try f.uint8("explained").values))
        try check(f, m, report)
    }

    @Test func logicGANStep() throws {
        let f = try #require(try Fixture.load("steps/logicgan_step"))
        let m = try model(f, method: .logicGAN, image: [1, 28, 28])
        let report = try m.trainStep(real: try f.tensor("real"), noiseForD: try f.tensor("z_D"),
                                     noiseForG: try f.tensor("z_G"), explain: true,
                                     attributions: try f.tensor("shap_values"))
        try check(f, m, report)
    }
}
