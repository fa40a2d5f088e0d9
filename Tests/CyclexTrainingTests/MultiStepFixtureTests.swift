import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Foundation
import Testing

/// Several consecutive training steps of each CycleGAN model against PyTorch (`steps/*_5steps`):
/// the losses of every step and the parameters after the last one. Optimiser moments, step counts
/// and image pools carry over between steps, which the one-step fixtures cannot see.
struct MultiStepFixtureTests {
    /// Runs `config.steps` steps with `step` and checks each step's losses, then every parameter.
    func run(_ f: Fixture, networks: [(prefix: String, module: any Module)],
             sourceLocation: SourceLocation = #_sourceLocation,
             step: (_ prefix: String) throws -> StepReport) throws {
        let steps = try f.config["steps"].int()
        #expect(steps >= 2, "a multi-step file has at least two steps", sourceLocation: sourceLocation)
        for k in 0..<steps {
            let prefix = "step\(k)."
            let report = try step(prefix)
            let terms = lossTerms(f, prefix: prefix)
            #expect(!terms.isEmpty, "no losses for step \(k)", sourceLocation: sourceLocation)
            for term in terms {
                let value = try #require(report[loss: term], "step \(k) reports no loss \(term)",
                                         sourceLocation: sourceLocation)
                try f.expectMatch(value, "\(prefix)loss_\(term)", sourceLocation: sourceLocation)
            }
        }
        var checked = 0
        for (net, module) in networks {
            for (name, p) in module.namedParameters {
                try f.expectMatch(p, "after.\(net).\(name)", sourceLocation: sourceLocation)
                checked += 1
            }
        }
        #expect(checked == f.names(withPrefix: "after.").count, "every parameter of the file is checked",
                sourceLocation: sourceLocation)
    }

    @Test func cycleGANFiveSteps() throws {
        let f = try Fixture.load("steps/cyclegan_5steps")
        let model = CycleGANModel(configuration: try .fixture(f), seed: 1)
        try loadBefore(f, model.networks)
        try applyAdamSettings(f, to: model.optimizers)
        try run(f, networks: model.networks) { prefix in
            try model.trainStep(realA: try f.tensor(prefix + "real_A"), realB: try f.tensor(prefix + "real_B"))
        }
    }

    @Test func xaiCycleGANFiveSteps() throws {
        let f = try Fixture.load("steps/xai_cyclegan_5steps")
        let model = XAICycleGANModel(configuration: try .fixture(f), seed: 1)
        try loadBefore(f, model.networks)
        try applyAdamSettings(f, to: model.optimizers)
        try run(f, networks: model.networks) { prefix in
            try model.trainStep(realA: try f.tensor(prefix + "real_A"), realB: try f.tensor(prefix + "real_B"),
                                maskA: try f.tensor(prefix + "M_A"), maskB: try f.tensor(prefix + "M_B"))
        }
    }
}
