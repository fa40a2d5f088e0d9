import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Testing

/// The xAI step drops the generators' previous gradients before its forward passes
/// (`XAICycleGANModel.dropsGeneratorGradientsFirst`, `CYCLEX_XAI_EARLY_ZERO_GRAD`), so they are not
/// alive at the step's memory peak: on the `steps/xai_cyclegan_step` fixture's networks and inputs,
/// two steps give the same bits as dropping them just before the backward (every report tensor,
/// loss and diagnostic of both steps, every gradient and updated parameter), and during the second
/// step's pass 2 no generator parameter holds a gradient any more (the old order still holds step
/// 1's there).
struct EarlyGradientReleaseTests {
    /// Records, when pass 2's generator forwards start, whether any generator parameter still
    /// holds a gradient.
    final class GradientWatcher: StepPhaseRecorder {
        let parameters: [Tensor]
        var heldAtPass2: [Bool] = []
        init(_ parameters: [Tensor]) { self.parameters = parameters }
        func begin(_ name: String) {
            if name.hasPrefix("pass 2: 4 or 6 G forwards") { heldAtPass2.append(parameters.contains { $0.gradient != nil }) }
        }
    }

    @Test func droppingGeneratorGradientsFirstGivesTheSameStepsBitForBit() throws {
        let f = try Fixture.load("steps/xai_cyclegan_step")
        func twoSteps(early: Bool) throws -> (reports: [StepReport], parameters: [String: [Float]], held: [Bool]) {
            let model = XAICycleGANModel(configuration: try .fixture(f), seed: 1)
            try loadBefore(f, model.networks)
            try applyAdamSettings(f, to: model.optimizers)
            model.dropsGeneratorGradientsFirst = early
            let watcher = GradientWatcher(model.optimizerG.parameters)
            model.phases = watcher
            var reports: [StepReport] = []
            for _ in 0..<2 {
                reports.append(try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
                                                   maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B")))
            }
            var parameters: [String: [Float]] = [:]
            for (prefix, module) in model.networks {
                for (name, p) in module.namedParameters {
                    parameters["after.\(prefix).\(name)"] = p.scalars
                    parameters["grad.\(prefix).\(name)"] = p.gradient?.scalars ?? []
                }
            }
            return (reports, parameters, watcher.heldAtPass2)
        }
        let late = try twoSteps(early: false), early = try twoSteps(early: true)
        #expect(late.held == [false, true], "the old order keeps step 1's generator gradients through step 2's pass 2")
        #expect(early.held == [false, false], "generator gradients alive during pass 2 of step 2")
        func same(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
        for (a, b) in zip(late.reports, early.reports) {
            #expect(a.tensors.count >= 20 && Set(a.tensors.keys) == Set(b.tensors.keys))
            for (name, t) in a.tensors { #expect(same(t.scalars, b.tensors[name]?.scalars ?? []), "\(name)") }
            #expect(!a.losses.isEmpty && a.losses.count == b.losses.count && a.diagnostics.count == b.diagnostics.count)
            for ((name, x), (_, y)) in zip(a.losses + a.diagnostics, b.losses + b.diagnostics) {
                #expect(x.bitPattern == y.bitPattern, "\(name): \(x) vs \(y)")
            }
        }
        #expect(late.parameters.count == early.parameters.count && !late.parameters.isEmpty)
        for (name, values) in late.parameters {
            #expect(!values.isEmpty, "\(name) missing")
            #expect(same(values, early.parameters[name] ?? []), "\(name)")
        }
    }
}
