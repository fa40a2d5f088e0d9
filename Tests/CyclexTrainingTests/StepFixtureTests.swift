import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Foundation
import Testing

/// One full training step of each model against `fixtures/steps` (docs/training.md#cyclegan-step and
/// docs/training.md#xai-cyclegan-step). The model
/// is rebuilt from the file's `config` (`ModelConfiguration.fixture`).
struct StepFixtureTests {
    /// Gradients used by each optimiser step, and parameters after it (the fixture's element-wise
    /// Adam rule, applied by `expectMatch` for `after.*`).
    func expectGradientsAndUpdates(_ f: Fixture, _ networks: [(prefix: String, module: any Module)]) throws {
        for (prefix, module) in networks {
            for (name, p) in module.namedParameters {
                let g = try #require(p.gradient, "\(prefix).\(name) has no gradient")
                try f.expectMatch(g, "grad.\(prefix).\(name)")
                try f.expectMatch(p, "after.\(prefix).\(name)")
            }
        }
    }

    /// Every `loss_<term>` of the file against the report's loss `<term>`.
    func expectLosses(_ f: Fixture, _ report: StepReport, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let terms = lossTerms(f)
        #expect(!terms.isEmpty, "no losses in \(f.name)", sourceLocation: sourceLocation)
        for term in terms {
            let value = try #require(report[loss: term], "the step reports no loss \(term)", sourceLocation: sourceLocation)
            try f.expectMatch(value, "loss_\(term)", sourceLocation: sourceLocation)
        }
    }

    func cycleGAN(_ f: Fixture) throws -> CycleGANModel {
        let model = CycleGANModel(configuration: try .fixture(f), seed: 1)
        try loadBefore(f, model.networks)
        try applyAdamSettings(f, to: model.optimizers)
        return model
    }

    func xaiCycleGAN(_ f: Fixture, lambdaSource: ModelConfiguration.LambdaSource? = nil) throws -> XAICycleGANModel {
        var configuration = try ModelConfiguration.fixture(f)
        if let lambdaSource { configuration.lambdaSource = lambdaSource }
        let model = XAICycleGANModel(configuration: configuration, seed: 1)
        try loadBefore(f, model.networks)
        try applyAdamSettings(f, to: model.optimizers)
        return model
    }

    @Test func cycleGANStep() throws {
        let f = try Fixture.load("steps/cyclegan_step")
        let model = try cycleGAN(f)
        let report = try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"))
        for name in ["fake_B", "rec_A", "fake_A", "rec_B", "idt_A", "idt_B"] {
            try f.expectMatch(try #require(report.tensors[name]), name)
        }
        try expectLosses(f, report)
        try expectGradientsAndUpdates(f, model.networks)
    }

    @Test func xaiCycleGANStep() throws {
        let f = try Fixture.load("steps/xai_cyclegan_step")
        let model = try xaiCycleGAN(f)
        let report = try model.trainStep(
            realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
            maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B"))
        let tensorNames = [
            "pass1.y_B", "pass1.y_A", "pass1.saliency_Dm_B", "pass1.saliency_Dm_A", "pass1.patch_map_Dm_B",
            "pass1.patch_map_Dm_A", "M_A_aug", "M_B_aug", "fake_B", "rec_A", "idt_A", "fake_A", "rec_B", "idt_B",
            "saliency_D_B", "saliency_Dm_B", "saliency_D_A", "saliency_Dm_A", "patch_map_D_B", "patch_map_Dm_B",
            "patch_map_D_A", "patch_map_Dm_A", "E_B", "E_A",
        ]
        for name in tensorNames { try f.expectMatch(try #require(report.tensors[name], "\(name) missing"), name) }
        for name in ["pass1.loss_Dm_B", "pass1.loss_Dm_A", "pass1.lambda_B", "pass1.lambda_A", "x_D_B", "x_Dm_B",
                     "x_D_A", "x_Dm_A", "lambda_D_B", "lambda_Dm_B", "lambda_D_A", "lambda_Dm_A"] {
            try f.expectMatch(try #require(report[diagnostic: name], "\(name) missing"), name)
        }
        // The explained patch of every sample: the first maximum of its (already checked) patch map;
        // the report's diagnostic gives the first sample's.
        for name in ["pass1.argmax_Dm_B", "pass1.argmax_Dm_A", "argmax_D_B", "argmax_Dm_B", "argmax_D_A", "argmax_Dm_A"] {
            let map = try #require(report.tensors[name.replacingOccurrences(of: "argmax", with: "patch_map")])
            let perSample = map.count / map.shape[0]
            let argmax = (0..<map.shape[0]).map { b in
                let row = map.scalars[(b * perSample)..<((b + 1) * perSample)]
                return row.indices.first { row[$0] == row.max()! }! - b * perSample
            }
            try f.expectMatch(argmax, shape: [argmax.count], name)
            #expect(report[diagnostic: name] == Float(argmax[0]), "\(name) of the first sample")
        }
        try expectLosses(f, report)
        try expectGradientsAndUpdates(f, model.networks)
    }

    @Test func crossedLambdaWiring() throws {
        let f = try Fixture.load("steps/xai_cyclegan_step")
        let model = try xaiCycleGAN(f, lambdaSource: .crossed)
        let report = try model.trainStep(
            realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
            maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B"))
        try f.expectMatch(try #require(report.tensors["E_B"]), "crossed.E_B")
        try f.expectMatch(try #require(report.tensors["E_A"]), "crossed.E_A")
    }

    /// Without explanations the masks stay as drawn and no map reaches the generators.
    @Test func explanationsCanBeSwitchedOff() throws {
        let f = try Fixture.load("steps/xai_cyclegan_step")
        let model = try xaiCycleGAN(f)
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
        let f = try Fixture.load("explain/lambda")
        let x = try f.floats("x").values, gammas = try f.config["gammas"].floats()
        let values = gammas.flatMap { gamma in x.map { Explanation.lambda($0, gamma: gamma) } }
        try f.expectMatch(Tensor(shape: [gammas.count, x.count], scalars: values), "lambda")
    }

    @Test func patchSaliency() throws {
        let f = try Fixture.load("explain/patch_saliency")
        var g = RandomGenerator(seed: 1)
        let d = PatchDiscriminator(filters: try f.config["ndf"].int(), inputChannels: try f.shape("input")[1], using: &g)
        try d.load { try f.tensor("param.\($0)") }
        let (saliency, map, argmax) = Explanation.patchSaliency(of: d, at: try f.tensor("input"))
        try f.expectMatch(saliency, "saliency")
        try f.expectMatch(map, "patch_map")
        try f.expectMatch(argmax.map(Int64.init), shape: [argmax.count], "argmax")
        #expect(d.parameters.allSatisfy { $0.gradient == nil }, "saliency must not touch parameter gradients")
    }
}
