import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Foundation
import Testing

/// One full training step of each model against `fixtures/steps` (SPEC §1.4 and §3.10).
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct StepFixtureTests {
    func load(_ f: Fixture, _ networks: [(prefix: String, module: any Module)]) throws {
        for (prefix, module) in networks {
            try module.load { name in try f.tensor("before.\(prefix).\(name)") }
        }
    }

    func expectClose(_ f: Fixture, _ actual: Tensor, _ name: String) throws {
        let c = try f.compare(actual, with: name)
        #expect(c.passed, "\(c)")
    }

    func expectClose(_ f: Fixture, _ actual: Float, _ name: String) throws {
        try expectClose(f, Tensor(actual), name)
    }

    /// Gradients used by each optimiser step, and parameters after it with the README's
    /// element-wise rule (1e-5 where |grad_ref| ≥ τ, 2.05·lr elsewhere).
    func expectGradientsAndUpdates(_ f: Fixture, _ networks: [(prefix: String, module: any Module)]) throws {
        let check = try #require(f.config["adam_check"] as? [String: [String: Double]])
        for (prefix, module) in networks {
            let net = try #require(check[prefix])
            let (lr, tau) = (Float(net["lr"]!), Float(net["tau"]!))
            for (name, p) in module.namedParameters {
                let g = try #require(p.gradient, "\(prefix).\(name) has no gradient")
                try expectClose(f, g, "grad.\(prefix).\(name)")
                let gradRef = try f.floats("grad.\(prefix).\(name)").values
                let tolerance = gradRef.map { abs($0) >= tau ? Float(1e-5) : 2.05 * lr }
                let after = try f.floats("after.\(prefix).\(name)")
                let c = Comparison(label: "after.\(prefix).\(name)", actual: p.scalars, actualShape: p.shape,
                                   reference: after.values, referenceShape: after.shape, atol: 1e-5,
                                   perElementTolerance: tolerance)
                #expect(c.passed, "\(c)")
            }
        }
    }

    @Test func cycleGANStep() throws {
        let f = try #require(try Fixture.load("steps/cyclegan_step"))
        var configuration = ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: 32)
        configuration.poolSize = 50
        let model = CycleGANModel(configuration: configuration, seed: 1)
        try load(f, model.networks)
        let report = try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"))
        for name in ["fake_B", "rec_A", "fake_A", "rec_B", "idt_A", "idt_B"] {
            try expectClose(f, try #require(report.tensors[name]), name)
        }
        for (mine, theirs) in [("G", "loss_G"), ("G_A", "loss_G_A"), ("G_B", "loss_G_B"), ("cycle_A", "loss_cycle_A"),
                               ("cycle_B", "loss_cycle_B"), ("idt_A", "loss_idt_A"), ("idt_B", "loss_idt_B"),
                               ("D_A", "loss_D_A"), ("D_B", "loss_D_B")] {
            try expectClose(f, try #require(report[loss: mine]), theirs)
        }
        try expectGradientsAndUpdates(f, model.networks)
    }

    @Test func xaiCycleGANStep() throws {
        let f = try #require(try Fixture.load("steps/xai_cyclegan_step"))
        let configuration = ModelConfiguration.preset(.tiny, kind: .xaiCycleGAN, imageSize: 32)
        let model = XAICycleGANModel(configuration: configuration, seed: 1)
        try load(f, model.networks)
        let report = try model.trainStep(
            realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
            maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B"))
        let tensorNames = [
            "pass1.y_B", "pass1.y_A", "pass1.saliency_Dm_B", "pass1.saliency_Dm_A", "pass1.patch_map_Dm_B",
            "pass1.patch_map_Dm_A", "M_A_aug", "M_B_aug", "fake_B", "rec_A", "idt_A", "fake_A", "rec_B", "idt_B",
            "saliency_D_B", "saliency_Dm_B", "saliency_D_A", "saliency_Dm_A", "patch_map_D_B", "patch_map_Dm_B",
            "patch_map_D_A", "patch_map_Dm_A", "E_B", "E_A",
        ]
        for name in tensorNames { try expectClose(f, try #require(report.tensors[name], "\(name) missing"), name) }
        for name in ["pass1.loss_Dm_B", "pass1.loss_Dm_A", "pass1.lambda_B", "pass1.lambda_A", "x_D_B", "x_Dm_B",
                     "x_D_A", "x_Dm_A", "lambda_D_B", "lambda_Dm_B", "lambda_D_A", "lambda_Dm_A"] {
            try expectClose(f, try #require(report[diagnostic: name], "\(name) missing"), name)
        }
        for name in ["pass1.argmax_Dm_B", "pass1.argmax_Dm_A", "argmax_D_B", "argmax_Dm_B", "argmax_D_A", "argmax_Dm_A"] {
            #expect(Int64(try #require(report[diagnostic: name])) == (try f.int64s(name))[0], "\(name)")
        }
        for (mine, theirs) in [("G", "loss_G"), ("adv_AB", "loss_adv_AB"), ("adv_BA", "loss_adv_BA"),
                               ("cyc_A", "loss_cyc_A"), ("cyc_B", "loss_cyc_B"), ("cycle", "loss_cycle"),
                               ("idt_A", "loss_idt_A"), ("idt_B", "loss_idt_B"), ("idt", "loss_idt"),
                               ("D_A", "loss_D_A"), ("D_B", "loss_D_B")] {
            try expectClose(f, try #require(report[loss: mine]), theirs)
        }
        try expectGradientsAndUpdates(f, model.networks)
    }

    @Test func crossedLambdaWiring() throws {
        let f = try #require(try Fixture.load("steps/xai_cyclegan_step"))
        var configuration = ModelConfiguration.preset(.tiny, kind: .xaiCycleGAN, imageSize: 32)
        configuration.lambdaSource = .crossed
        let model = XAICycleGANModel(configuration: configuration, seed: 1)
        try load(f, model.networks)
        let report = try model.trainStep(
            realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
            maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B"))
        try expectClose(f, try #require(report.tensors["E_B"]), "crossed.E_B")
        try expectClose(f, try #require(report.tensors["E_A"]), "crossed.E_A")
    }

    /// Without explanations the masks stay as drawn and no map reaches the generators.
    @Test func explanationsCanBeSwitchedOff() throws {
        let f = try #require(try Fixture.load("steps/xai_cyclegan_step"))
        let model = XAICycleGANModel(configuration: .preset(.tiny, kind: .xaiCycleGAN, imageSize: 32), seed: 1)
        try load(f, model.networks)
        model.usesExplanations = false
        let maskA = try f.tensor("M_A")
        let report = try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
                                         maskA: maskA, maskB: try f.tensor("M_B"))
        #expect(report.tensors["E_B"] == nil && report.tensors["saliency_D_B"] == nil)
        #expect(report.tensors["M_A_aug"]?.scalars == maskA.scalars)
        // The explanation rule changes the generators' gradients: they now differ from the fixture's.
        let g = try #require(model.generatorAB.namedParameters.first { $0.name == "final.conv.weight" }?.tensor.gradient)
        #expect(!(try f.compare(g, with: "grad.G_AB.final.conv.weight").passed))
    }

    @Test func lambdaCoefficient() throws {
        let f = try #require(try Fixture.load("explain/lambda"))
        let x = try f.floats("x").values, gammas = try f.floats("gammas").values
        let values = gammas.flatMap { gamma in x.map { Explanation.lambda($0, gamma: gamma) } }
        try expectClose(f, Tensor(shape: [gammas.count, x.count], scalars: values), "lambda")
    }

    @Test func patchSaliency() throws {
        let f = try #require(try Fixture.load("explain/patch_saliency"))
        var g = RandomGenerator(seed: 1)
        let d = PatchDiscriminator(filters: 8, using: &g)
        try d.load { try f.tensor("param.\($0)") }
        let (saliency, map, argmax) = Explanation.patchSaliency(of: d, at: try f.tensor("input"))
        try expectClose(f, saliency, "saliency")
        try expectClose(f, map, "patch_map")
        #expect(argmax.map(Int64.init) == (try f.int64s("argmax")))
        #expect(d.parameters.allSatisfy { $0.gradient == nil }, "saliency must not touch parameter gradients")
    }
}
