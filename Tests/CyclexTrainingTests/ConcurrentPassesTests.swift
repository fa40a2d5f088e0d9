import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Testing

/// The xAI step's independent discriminator passes side by side (`Explanation.independently`,
/// `CYCLEX_XAI_CONCURRENT_PASSES`) give the same bits as one after another: every tensor and
/// number of the step's report, every gradient and every updated parameter, on the
/// `steps/xai_cyclegan_step` fixture's networks and inputs. (With one pool thread both runs are
/// serial; on CI's two cores the passes really run at once.) Plus `independently` itself: results
/// in index order, the caller's gradient mode inside every pass.
struct ConcurrentPassesTests {
    @Test func sideBySideGivesTheSameStepBitForBit() throws {
        let f = try Fixture.load("steps/xai_cyclegan_step")
        func step(concurrent: Bool) throws -> (StepReport, [String: [Float]]) {
            let model = XAICycleGANModel(configuration: try .fixture(f), seed: 1)
            try loadBefore(f, model.networks)
            try applyAdamSettings(f, to: model.optimizers)
            let report = try Explanation.$concurrentPassesOverride.withValue(concurrent) {
                try model.trainStep(realA: try f.tensor("real_A"), realB: try f.tensor("real_B"),
                                    maskA: try f.tensor("M_A"), maskB: try f.tensor("M_B"))
            }
            var parameters: [String: [Float]] = [:]
            for (prefix, module) in model.networks {
                for (name, p) in module.namedParameters {
                    parameters["after.\(prefix).\(name)"] = p.scalars
                    parameters["grad.\(prefix).\(name)"] = p.gradient?.scalars ?? []
                }
            }
            return (report, parameters)
        }
        let (serial, serialParameters) = try step(concurrent: false)
        let (sideBySide, sideBySideParameters) = try step(concurrent: true)
        func same(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
        #expect(Set(serial.tensors.keys) == Set(sideBySide.tensors.keys))
        #expect(serial.tensors.keys.contains("saliency_Dm_A") && serial.tensors.keys.contains("pass1.saliency_Dm_B"))
        for (name, t) in serial.tensors {
            #expect(same(t.scalars, sideBySide.tensors[name]?.scalars ?? []), "\(name)")
        }
        for (name, value) in serial.losses + serial.diagnostics {
            let other = sideBySide[loss: name] ?? sideBySide[diagnostic: name]
            #expect(other?.bitPattern == value.bitPattern, "\(name): \(value) vs \(String(describing: other))")
        }
        #expect(serialParameters.count == sideBySideParameters.count && !serialParameters.isEmpty)
        for (name, values) in serialParameters {
            #expect(!values.isEmpty, "\(name) missing")
            #expect(same(values, sideBySideParameters[name] ?? []), "\(name)")
        }
    }

    /// The same at the small preset's real size (128²), where the products are large enough to be
    /// split into parts and the inference forward runs its tiled kernels: pass 1's generator and
    /// discriminator outputs, the saliency maps, E and every gradient, bit for bit.
    @Test func sideBySideGivesTheSameBitsAtTheRealSize() throws {
        var rng = RandomGenerator(seed: 3)
        let shape = [1, 3, 128, 128]
        let (a, b) = (Tensor(randomUniform: shape, lowerBound: -1, upperBound: 1, using: &rng),
                      Tensor(randomUniform: shape, lowerBound: -1, upperBound: 1, using: &rng))
        let (maskA, maskB) = (Tensor(randomUniform: shape, lowerBound: 0, upperBound: 1, using: &rng),
                              Tensor(randomUniform: shape, lowerBound: 0, upperBound: 1, using: &rng))
        func step(concurrent: Bool) throws -> (StepReport, [[Float]]) {
            let model = XAICycleGANModel(configuration: .preset(.small, kind: .xaiCycleGAN, imageSize: 128), seed: 1)
            let report = try Explanation.$concurrentPassesOverride.withValue(concurrent) {
                try model.trainStep(realA: a, realB: b, maskA: maskA, maskB: maskB)
            }
            let gradients = model.networks.flatMap { $0.module.namedParameters.map { $0.tensor.gradient?.scalars ?? [] } }
            return (report, gradients)
        }
        let (serial, serialGradients) = try step(concurrent: false)
        let (sideBySide, sideBySideGradients) = try step(concurrent: true)
        func same(_ x: [Float], _ y: [Float]) -> Bool { x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern } }
        #expect(serial.tensors.count >= 20 && Set(serial.tensors.keys) == Set(sideBySide.tensors.keys))
        for (name, t) in serial.tensors { #expect(same(t.scalars, sideBySide.tensors[name]?.scalars ?? []), "\(name)") }
        #expect(serialGradients.count == sideBySideGradients.count && serialGradients.allSatisfy { !$0.isEmpty })
        for (i, g) in serialGradients.enumerated() { #expect(same(g, sideBySideGradients[i]), "gradient \(i)") }
    }

    @Test func passesKeepTheirOrderAndTheCallersGradientMode() {
        for concurrent in [true, false] {
            for recording in [true, false] {
                let body = {
                    Explanation.independently(6) { i -> (Int, Bool) in (i * i, GradientMode.isRecording) }
                }
                let results = Explanation.$concurrentPassesOverride.withValue(concurrent) {
                    recording ? withGradient(body) : withoutGradient(body)
                }
                #expect(results.map(\.0) == [0, 1, 4, 9, 16, 25])
                #expect(results.allSatisfy { $0.1 == recording }, "concurrent \(concurrent), recording \(recording)")
            }
        }
    }
}
