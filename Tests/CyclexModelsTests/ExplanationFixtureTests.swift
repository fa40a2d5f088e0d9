import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import Testing

/// The single GANs' explanation masks against `fixtures/explain` (docs/explanations.md#xai-gan-explanation-matrix,
/// docs/explanations.md#logicgan-mask).
/// Widths and image shapes come from each file's `config` and its `input` tensor.
struct ExplanationFixtureTests {
    func denseDiscriminator(_ f: Fixture) throws -> DenseDiscriminator {
        var g = RandomGenerator(seed: 1)
        let image = Array(try f.shape("input").dropFirst())
        let d = DenseDiscriminator(imageShape: image, hidden: try f.config["hidden"].ints(), using: &g)
        d.isTraining = false  // dropout disabled in the fixtures
        try d.load { try f.tensor("param.\($0)") }
        return d
    }

    @Test func xaiGANSaliency() throws {
        let f = try Fixture.load("explain/xaigan_saliency")
        let d = try denseDiscriminator(f)
        let x = try f.tensor("input")
        let p = withoutGradient { d(x) }
        try f.expectMatch(p, "p")
        let saliency = GANExplanations.probabilitySaliency(of: { d($0) }, at: x)
        try f.expectMatch(saliency, "saliency")
        let (mask, explained) = GANExplanations.xaiGANMatrix(probabilities: p.scalars, attributions: saliency)
        try f.expectMatch(mask, "M")
        try f.expectMatch(explained.map { $0 ? 1 : 0 }, shape: [explained.count], "explained")
        let filterCases = f.names(withPrefix: "").filter { $0.hasSuffix(".explained") }.map { String($0.dropLast(10)) }
        #expect(!filterCases.isEmpty)
        for name in filterCases {
            let (m, e) = GANExplanations.xaiGANMatrix(probabilities: try f.floats("\(name).p").values, attributions: saliency)
            try f.expectMatch(m, "\(name).M")
            try f.expectMatch(e.map { $0 ? 1 : 0 }, shape: [e.count], "\(name).explained")
        }
        #expect(d.parameters.allSatisfy { $0.gradient == nil })
    }

    @Test func xaiGANSaliencyWithBatchNorm() throws {
        let f = try Fixture.load("explain/xaigan_saliency_dcgan")
        var g = RandomGenerator(seed: 1)
        let d = DcganDiscriminator(filters: try f.config["ndf"].int(), using: &g)
        try d.load { name in try f.contains("param.\(name)") ? f.tensor("param.\(name)") : f.tensor("buffer.\(name)") }
        let x = try f.tensor("input")
        let p = withoutGradient { d(x) }
        try f.expectMatch(p, "p")
        let probabilities = p.scalars
        let explained = probabilities.map { $0 < 0.5 }
        // Saliency of every row (each a single-sample forward); the reference's running statistics
        // see the batch forward and then only the explained rows' forwards, in row order.
        let perRow = Tensor(uninitializedShape: x.shape)
        let per = x.count / x.shape[0]
        let saved = d.namedBuffers.map { $0.tensor.scalars }
        let all = GANExplanations.probabilitySaliency(of: { d($0) }, at: x)
        try f.expectMatch(all, "saliency")
        for (buffer, values) in zip(d.namedBuffers, saved) { buffer.tensor.assign(values) }
        for i in 0..<x.shape[0] where explained[i] {
            let row = Tensor(uninitializedShape: [1] + x.shape.dropFirst())
            row.pointer.update(from: x.pointer + i * per, count: per)
            let s = GANExplanations.probabilitySaliency(of: { d($0) }, at: row)
            (perRow.pointer + i * per).update(from: s.pointer, count: per)
        }
        for (name, buffer) in d.namedBuffers where f.contains("buffer_after.\(name)") {
            try f.expectMatch(buffer, "buffer_after.\(name)")
        }
        let (mask, flags) = GANExplanations.xaiGANMatrix(probabilities: probabilities, attributions: all)
        try f.expectMatch(mask, "M")
        try f.expectMatch(flags.map { $0 ? 1 : 0 }, shape: [flags.count], "explained")
    }

    @Test func deepLiftShap() throws {
        let f = try Fixture.load("explain/deeplift_shap")
        let d = try denseDiscriminator(f)
        let x = try f.tensor("input"), baselines = try f.tensor("baselines")
        let (attributions, perBaseline) = GANExplanations.deepLiftShap(of: d, inputs: x, baselines: baselines)
        try f.expectMatch(attributions, "attributions")
        try f.expectMatch(perBaseline, "attributions_per_baseline")
        let p = withoutGradient { d(x) }, pb = withoutGradient { d(baselines) }
        try f.expectMatch(p, "p")
        try f.expectMatch(pb, "p_baselines")
        // Completeness: Σ attributions of a row = D(x) − mean D(baselines).
        let meanBaseline = pb.scalars.reduce(0, +) / Float(pb.count)
        let per = x.count / x.shape[0]
        for i in 0..<x.shape[0] {
            let total = attributions.scalars[(i * per)..<((i + 1) * per)].reduce(0, +)
            #expect(abs(total - (p.scalars[i] - meanBaseline)) < 1e-4)
        }
        // The general affine-stage engine (used for DCGAN) gives the same values as the dense one.
        let (general, generalPairs) = GANExplanations.rescaleDeepLiftShap(stages: d.affineStages, inputs: x, baselines: baselines,
                                                                          keepPairs: true)
        try f.expectMatch(general, "attributions")
        try f.expectMatch(try #require(generalPairs), "attributions_per_baseline")
        // The training path computes only the requested rows (xAI-GAN's rejected fakes), the same values.
        let chosen = (0..<x.shape[0]).map { $0 % 2 == 1 }
        let partial = GANExplanations.deepLiftShapMean(of: d, inputs: x, baselines: baselines, explain: chosen)
        for i in 0..<x.shape[0] {
            let mine = partial.scalars[(i * per)..<((i + 1) * per)], full = attributions.scalars[(i * per)..<((i + 1) * per)]
            #expect(chosen[i] ? Array(mine) == Array(full) : mine.allSatisfy { $0 == 0 }, "row \(i)")
        }
        try f.expectMatch(GANExplanations.logicGANMask(attributions: attributions), "logicgan_M")
        try f.expectMatch(GANExplanations.xaiGANMatrix(probabilities: p.scalars, attributions: attributions).mask, "xaigan_M")
    }
}
