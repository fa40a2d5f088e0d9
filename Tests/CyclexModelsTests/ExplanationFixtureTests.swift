import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import Testing

/// The single GANs' explanation masks against `fixtures/explain` (SPEC §4.4, §5.3).
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct ExplanationFixtureTests {
    func expectClose(_ f: Fixture, _ t: Tensor, _ name: String) throws {
        let c = try f.compare(t, with: name)
        #expect(c.passed, "\(c)")
    }

    func denseDiscriminator(_ f: Fixture) throws -> DenseDiscriminator {
        var g = RandomGenerator(seed: 1)
        let d = DenseDiscriminator(imageShape: [1, 32, 32], hidden: [96, 64, 32], using: &g)
        d.isTraining = false  // dropout disabled in the fixtures
        try d.load { try f.tensor("param.\($0)") }
        return d
    }

    @Test func xaiGANSaliency() throws {
        let f = try #require(try Fixture.load("explain/xaigan_saliency"))
        let d = try denseDiscriminator(f)
        let x = try f.tensor("input")
        let p = withoutGradient { d(x) }
        try expectClose(f, p, "p")
        let saliency = GANExplanations.probabilitySaliency(of: { d($0) }, at: x)
        try expectClose(f, saliency, "saliency")
        let (mask, explained) = GANExplanations.xaiGANMatrix(probabilities: p.scalars, attributions: saliency)
        try expectClose(f, mask, "M")
        #expect(explained.map { $0 ? UInt8(1) : 0 } == (try f.uint8("explained").values))
        for name in ["filter_one", "filter_none", "filter_all"] {
            let (m, e) = GANExplanations.xaiGANMatrix(probabilities: try f.floats("\(name).p").values, attributions: saliency)
            try expectClose(f, m, "\(name).M")
            #expect(e.map { $0 ? UInt8(1) : 0 } == (try f.uint8("\(name).explained").values), "\(name)")
        }
        #expect(d.parameters.allSatisfy { $0.gradient == nil })
    }

    @Test func xaiGANSaliencyWithBatchNorm() throws {
        let f = try #require(try Fixture.load("explain/xaigan_saliency_dcgan"))
        var g = RandomGenerator(seed: 1)
        let d = DcganDiscriminator(filters: 8, using: &g)
        try d.load { name in try f.contains("param.\(name)") ? f.tensor("param.\(name)") : f.tensor("buffer.\(name)") }
        let x = try f.tensor("input")
        let p = withoutGradient { d(x) }
        try expectClose(f, p, "p")
        let probabilities = p.scalars
        let explained = probabilities.map { $0 < 0.5 }
        // Saliency of every row (each a single-sample forward); the reference's running statistics
        // see the batch forward and then only the explained rows' forwards, in row order.
        let perRow = Tensor(uninitializedShape: x.shape)
        let per = x.count / x.shape[0]
        let saved = d.namedBuffers.map { $0.tensor.scalars }
        let all = GANExplanations.probabilitySaliency(of: { d($0) }, at: x)
        try expectClose(f, all, "saliency")
        for (buffer, values) in zip(d.namedBuffers, saved) { buffer.tensor.assign(values) }
        for i in 0..<x.shape[0] where explained[i] {
            let row = Tensor(uninitializedShape: [1] + x.shape.dropFirst())
            row.pointer.update(from: x.pointer + i * per, count: per)
            let s = GANExplanations.probabilitySaliency(of: { d($0) }, at: row)
            (perRow.pointer + i * per).update(from: s.pointer, count: per)
        }
        for (name, buffer) in d.namedBuffers where f.contains("buffer_after.\(name)") {
            try expectClose(f, buffer, "buffer_after.\(name)")
        }
        let (mask, flags) = GANExplanations.xaiGANMatrix(probabilities: probabilities, attributions: all)
        try expectClose(f, mask, "M")
        #expect(flags.map { $0 ? UInt8(1) : 0 } == (try f.uint8("explained").values))
    }

    @Test func deepLiftShap() throws {
        let f = try #require(try Fixture.load("explain/deeplift_shap"))
        let d = try denseDiscriminator(f)
        let x = try f.tensor("input"), baselines = try f.tensor("baselines")
        let (attributions, perBaseline) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines)
        try expectClose(f, attributions, "attributions")
        try expectClose(f, perBaseline, "attributions_per_baseline")
        let p = withoutGradient { d(x) }, pb = withoutGradient { d(baselines) }
        try expectClose(f, p, "p")
        try expectClose(f, pb, "p_baselines")
        // Completeness: Σ attributions of a row = D(x) − mean D(baselines).
        let meanBaseline = pb.scalars.reduce(0, +) / Float(pb.count)
        let per = x.count / x.shape[0]
        for i in 0..<x.shape[0] {
            let total = attributions.scalars[(i * per)..<((i + 1) * per)].reduce(0, +)
            #expect(abs(total - (p.scalars[i] - meanBaseline)) < 1e-4)
        }
        try expectClose(f, GANExplanations.logicGANMask(attributions: attributions), "logicgan_M")
        try expectClose(f, GANExplanations.xaiGANMatrix(probabilities: p.scalars, attributions: attributions).mask, "xaigan_M")
    }
}
