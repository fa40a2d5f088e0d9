import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import Testing

/// Whole-network forward and backward against `fixtures/models`: the engine's end-to-end test.
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct ModelFixtureTests {
    /// Loads `param.*`/`buffer.*` into `model`, runs `forward` on `input` (a leaf that needs a
    /// gradient), back-propagates `grad_output`, and checks output, input and parameter gradients.
    @discardableResult
    func check(_ fixture: Fixture, model: some Module, extraInputs: [String] = [],
               forward: (Tensor, [String: Tensor]) -> Tensor) throws -> [String: Tensor] {
        try model.load { name in
            if fixture.contains("param.\(name)") { return try fixture.tensor("param.\(name)") }
            if fixture.contains("buffer.\(name)") { return try fixture.tensor("buffer.\(name)") }
            return nil
        }
        #expect(model.namedParameters.map(\.name).sorted() == fixture.names(withPrefix: "param.").sorted())
        let input = try fixture.tensor("input", requiresGradient: true)
        var extras: [String: Tensor] = [:]
        for name in extraInputs { extras[name] = try fixture.tensor(name, requiresGradient: true) }
        let output = forward(input, extras)
        let c = try fixture.compare(output, with: "output")
        #expect(c.passed, "\(c)")
        output.backward(seed: try fixture.tensor("grad_output"))
        let gi = try fixture.compare(try #require(input.gradient), with: "grad_input")
        #expect(gi.passed, "\(gi)")
        for (name, extra) in extras where fixture.contains("grad_\(name)") {
            let ge = try fixture.compare(try #require(extra.gradient), with: "grad_\(name)")
            #expect(ge.passed, "\(ge)")
        }
        for (name, p) in model.namedParameters {
            let g = try #require(p.gradient, "no gradient for \(name)")
            let cg = try fixture.compare(g, with: "grad.\(name)")
            #expect(cg.passed, "\(cg)")
        }
        for (name, b) in model.namedBuffers where fixture.contains("buffer_after.\(name)") {
            let cb = try fixture.compare(b, with: "buffer_after.\(name)")
            #expect(cb.passed, "\(cb)")
        }
        return extras
    }

    @Test func resnetGenerator() throws {
        let f = try #require(try Fixture.load("models/cyclegan_generator"))
        var g = RandomGenerator(seed: 1)
        let model = ResnetGenerator(filters: 8, residualBlocks: 2, using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func patchDiscriminator() throws {
        let f = try #require(try Fixture.load("models/patch_discriminator"))
        var g = RandomGenerator(seed: 1)
        let model = PatchDiscriminator(filters: 8, using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func xaiGenerator() throws {
        let f = try #require(try Fixture.load("models/xai_generator"))
        var g = RandomGenerator(seed: 1)
        let model = XaiGenerator(filters: 8, residualBlocks: 2, using: &g)
        var parts: XaiGenerator.Parts?
        try check(f, model: model, extraInputs: ["mask"]) { x, e in
            let p = model.parts(x, mask: e["mask"]!)
            parts = p
            return p.output
        }
        let p = try #require(parts)
        for (tensor, name) in [(p.preTanh, "pre_tanh"), (p.context, "context"), (p.maskFused, "mask_fused")] {
            let c = try f.compare(tensor, with: name)
            #expect(c.passed, "\(c)")
        }
    }

    @Test func denseGenerator() throws {
        let f = try #require(try Fixture.load("models/dense_generator"))
        var g = RandomGenerator(seed: 1)
        let model = DenseGenerator(noiseSize: 100, hidden: [32, 64, 96], imageShape: [1, 32, 32], using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func denseDiscriminator() throws {
        let f = try #require(try Fixture.load("models/dense_discriminator"))
        var g = RandomGenerator(seed: 1)
        let model = DenseDiscriminator(imageShape: [1, 32, 32], hidden: [96, 64, 32], using: &g)
        model.isTraining = false  // the fixture disables dropout
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func dcganGenerator() throws {
        let f = try #require(try Fixture.load("models/dcgan_generator"))
        var g = RandomGenerator(seed: 1)
        let model = DcganGenerator(noiseSize: 100, filters: 8, using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func dcganDiscriminator() throws {
        let f = try #require(try Fixture.load("models/dcgan_discriminator"))
        var g = RandomGenerator(seed: 1)
        let model = DcganDiscriminator(filters: 8, using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func leNet5() throws {
        let f = try #require(try Fixture.load("models/lenet5"))
        var g = RandomGenerator(seed: 1)
        let model = LeNet5(using: &g)
        try check(f, model: model) { x, _ in model(x) }
        let features = model.features(try f.tensor("input"))
        let c = try f.compare(features, with: "features")
        #expect(c.passed, "\(c)")
    }
}

/// Parameter counts of the full-size reference models (SPEC Appendix B).
struct ParameterCountTests {
    @Test func fullSizeModels() {
        var g = RandomGenerator(seed: 0)
        #expect(ResnetGenerator(filters: 64, residualBlocks: 9, using: &g).parameterCount == 11_378_179)
        #expect(PatchDiscriminator(filters: 64, using: &g).parameterCount == 2_764_737)
        #expect(PatchDiscriminator(filters: 32, using: &g).parameterCount == 694_241)
        #expect(XaiGenerator(filters: 64, residualBlocks: 16, using: &g).parameterCount == 78_823_789)
        #expect(XaiGenerator(filters: 64, residualBlocks: 9, using: &g).parameterCount == 45_786_477)
        #expect(XaiGenerator(filters: 32, residualBlocks: 8, using: &g).parameterCount == 10_271_949)
        #expect(DenseGenerator(using: &g).parameterCount == 2_150_416)
        #expect(DenseDiscriminator(using: &g).parameterCount == 2_124_049)
        #expect(DcganGenerator(using: &g).parameterCount == 3_448_576)
        #expect(DcganDiscriminator(using: &g).parameterCount == 663_296)
        #expect(DenseGenerator(hidden: [256, 512, 1024], imageShape: [1, 28, 28], using: &g).parameterCount == 1_486_352)
        #expect(DenseDiscriminator(imageShape: [1, 28, 28], hidden: [1024, 512, 256], using: &g).parameterCount == 1_460_225)
        #expect(LeNet5(using: &g).parameterCount == 61_706)
    }
}
