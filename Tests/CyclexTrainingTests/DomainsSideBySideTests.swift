import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Testing

/// The two domains' discriminator forwards and backwards side by side (`DiscriminatorDomains`,
/// `CYCLEX_D_UPDATES_SIDE_BY_SIDE`) give the same bits as one domain after the other: every
/// tensor and number of each step's report, every gradient and every parameter after the
/// optimizer updates, for CycleGAN and xAI-CycleGAN, on the `steps/*` fixtures' networks and
/// inputs and over several steps of the small preset at 64² (where the image pools start to
/// answer with stored fakes and the products are split into parts). With one pool thread both
/// runs are serial; on CI's two cores the domains really run at once.
struct DomainsSideBySideTests {
    /// What a run of steps leaves behind: every report's tensors and numbers (step-prefixed), and
    /// every parameter and gradient after the last step.
    struct Outcome {
        var tensors: [String: [Float]] = [:]
        var numbers: [String: Float] = [:]
        var parameters: [String: [Float]] = [:]
    }

    func run(sideBySide: Bool, networks: [(prefix: String, module: any Module)], steps: Int,
             _ step: (Int) throws -> StepReport) throws -> Outcome {
        var outcome = Outcome()
        try DiscriminatorDomains.$sideBySideOverride.withValue(sideBySide) {
            for s in 0..<steps {
                let report = try step(s)
                for (name, t) in report.tensors { outcome.tensors["\(s).\(name)"] = t.scalars }
                for (name, v) in report.losses + report.diagnostics { outcome.numbers["\(s).\(name)"] = v }
            }
        }
        for (prefix, module) in networks {
            for (name, p) in module.namedParameters {
                outcome.parameters["after.\(prefix).\(name)"] = p.scalars
                outcome.parameters["grad.\(prefix).\(name)"] = p.gradient?.scalars ?? []
            }
        }
        return outcome
    }

    func expectSameBits(_ serial: Outcome, _ sideBySide: Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        func same(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
        #expect(!serial.tensors.isEmpty && Set(serial.tensors.keys) == Set(sideBySide.tensors.keys), sourceLocation: sourceLocation)
        for (name, t) in serial.tensors {
            let equal = same(t, sideBySide.tensors[name] ?? [])  // (not inside #expect: it would print both arrays)
            #expect(equal, "\(name)", sourceLocation: sourceLocation)
        }
        #expect(!serial.numbers.isEmpty && Set(serial.numbers.keys) == Set(sideBySide.numbers.keys), sourceLocation: sourceLocation)
        for (name, v) in serial.numbers {
            #expect(sideBySide.numbers[name]?.bitPattern == v.bitPattern, "\(name): \(v) vs \(String(describing: sideBySide.numbers[name]))",
                    sourceLocation: sourceLocation)
        }
        #expect(!serial.parameters.isEmpty && serial.parameters.count == sideBySide.parameters.count, sourceLocation: sourceLocation)
        for (name, values) in serial.parameters {
            #expect(!values.isEmpty, "\(name) missing", sourceLocation: sourceLocation)
            let equal = same(values, sideBySide.parameters[name] ?? [])
            #expect(equal, "\(name)", sourceLocation: sourceLocation)
        }
    }

    @Test func cycleGANFixtureStep() throws {
        let f = try Fixture.load("steps/cyclegan_step")
        func outcome(_ sideBySide: Bool) throws -> Outcome {
            let model = CycleGANModel(configuration: try .fixture(f), seed: 1)
            try loadBefore(f, model.networks)
            try applyAdamSettings(f, to: model.optimizers)
            return try run(sideBySide: sideBySide, networks: model.networks, steps: 1) { _ in
                try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"))
            }
        }
        expectSameBits(try outcome(false), try outcome(true))
    }

    @Test func xaiCycleGANFixtureStep() throws {
        let f = try Fixture.load("steps/xai_cyclegan_step")
        func outcome(_ sideBySide: Bool) throws -> Outcome {
            let model = XAICycleGANModel(configuration: try .fixture(f), seed: 1)
            try loadBefore(f, model.networks)
            try applyAdamSettings(f, to: model.optimizers)
            return try run(sideBySide: sideBySide, networks: model.networks, steps: 1) { _ in
                try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
                                    maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B"))
            }
        }
        expectSameBits(try outcome(false), try outcome(true))
    }

    /// Three steps of each small preset at 64²: pools, optimizer state and the step order carried
    /// from step to step, on both recipes (and xAI with and without its explanations, whose real
    /// scores the discriminator update otherwise reuses).
    @Test(arguments: ["cyclegan", "xai", "xai without explanations"])
    func smallPresetSteps(_ recipe: String) throws {
        let size = 64, steps = 3
        var rng = RandomGenerator(seed: 5)
        let images = (0..<(2 * steps)).map { _ in
            Tensor(randomUniform: [1, 3, size, size], lowerBound: -1, upperBound: 1, using: &rng)
        }
        func outcome(_ sideBySide: Bool) throws -> Outcome {
            if recipe == "cyclegan" {
                let model = CycleGANModel(configuration: .preset(.small, kind: .cycleGAN, imageSize: size), seed: 1)
                return try run(sideBySide: sideBySide, networks: model.networks, steps: steps) { s in
                    try model.trainStep(realA: images[2 * s], realB: images[2 * s + 1])
                }
            }
            let model = XAICycleGANModel(configuration: .preset(.small, kind: .xaiCycleGAN, imageSize: size), seed: 1)
            model.usesExplanations = recipe == "xai"
            return try run(sideBySide: sideBySide, networks: model.networks, steps: steps) { s in
                try model.trainStep(realA: images[2 * s], realB: images[2 * s + 1])
            }
        }
        expectSameBits(try outcome(false), try outcome(true))
    }
}
