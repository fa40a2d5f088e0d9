import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import Testing

/// Whole-network forward and backward against `fixtures/models`: the engine's end-to-end test.
/// Widths, depths and image shapes come from each file's `config`.
struct ModelFixtureTests {
    /// Loads `param.*`/`buffer.*` into `model`, runs `forward` on `input` (a leaf that needs a
    /// gradient), back-propagates `grad_output`, and checks output, input and parameter gradients.
    func check(_ fixture: Fixture, model: some Module, extraInputs: [String] = [],
               sourceLocation: SourceLocation = #_sourceLocation,
               forward: (Tensor, [String: Tensor]) -> Tensor) throws {
        try model.load { name in
            if fixture.contains("param.\(name)") { return try fixture.tensor("param.\(name)") }
            if fixture.contains("buffer.\(name)") { return try fixture.tensor("buffer.\(name)") }
            return nil
        }
        #expect(model.namedParameters.map(\.name).sorted() == fixture.names(withPrefix: "param.").sorted(),
                "parameter names", sourceLocation: sourceLocation)
        let input = try fixture.tensor("input", requiresGradient: true)
        var extras: [String: Tensor] = [:]
        for name in extraInputs { extras[name] = try fixture.tensor(name, requiresGradient: true) }
        let output = forward(input, extras)
        try fixture.expectMatch(output, "output", sourceLocation: sourceLocation)
        output.backward(seed: try fixture.tensor("grad_output").reshaped(to: output.shape))
        try fixture.expectMatch(try #require(input.gradient), "grad_input", sourceLocation: sourceLocation)
        for (name, extra) in extras where fixture.contains("grad_\(name)") {
            try fixture.expectMatch(try #require(extra.gradient), "grad_\(name)", sourceLocation: sourceLocation)
        }
        for (name, p) in model.namedParameters {
            let g = try #require(p.gradient, "no gradient for \(name)", sourceLocation: sourceLocation)
            try fixture.expectMatch(g, "grad.\(name)", sourceLocation: sourceLocation)
        }
        for (name, b) in model.namedBuffers where fixture.contains("buffer_after.\(name)") {
            try fixture.expectMatch(b, "buffer_after.\(name)", sourceLocation: sourceLocation)
        }
    }

    @Test func resnetGenerator() throws {
        let f = try Fixture.load("models/cyclegan_generator")
        var g = RandomGenerator(seed: 1)
        let model = ResnetGenerator(filters: try f.config["ngf"].int(), residualBlocks: try f.config["n_blocks"].int(),
                                    using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func patchDiscriminator() throws {
        let f = try Fixture.load("models/patch_discriminator")
        // The 70×70 PatchGAN has three stride-2 layers; other depths are not built.
        try #require(try f.config["n_layers"].int() == 3, "only n_layers = 3 exists")
        var g = RandomGenerator(seed: 1)
        let model = PatchDiscriminator(filters: try f.config["ndf"].int(), using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func xaiGenerator() throws {
        let f = try Fixture.load("models/xai_generator")
        var g = RandomGenerator(seed: 1)
        let model = XaiGenerator(
            filters: try f.config["ngf"].int(), residualBlocks: try f.config["n_blocks"].int(),
            upActivation: try Self.upActivation(f.config["up_activation"]), using: &g)
        var parts: XaiGenerator.Parts?
        try check(f, model: model, extraInputs: ["mask"]) { x, e in
            let p = model.parts(x, mask: e["mask"]!)
            parts = p
            return p.output
        }
        let p = try #require(parts)
        try f.expectMatch(p.preTanh, "pre_tanh")
        try f.expectMatch(p.context, "context")
        try f.expectMatch(p.maskFused, "mask_fused")
    }

    /// The fixture's spelling of the xAI generator's up-path activation.
    static func upActivation(_ value: FixtureValue) throws -> XaiGenerator.UpActivation {
        let text = try value.string()
        if text.hasPrefix("leaky_relu") { return .leakyRelu }
        if text == "relu" { return .relu }
        throw FixtureError.badMetadata(fixture: "models/xai_generator", key: value.path, problem: "unknown activation \(text)")
    }

    @Test func denseGenerator() throws {
        let f = try Fixture.load("models/dense_generator")
        var g = RandomGenerator(seed: 1)
        let model = DenseGenerator(noiseSize: try f.config["nz"].int(), hidden: try f.config["hidden"].ints(),
                                   imageShape: try f.config["image"].ints(), using: &g)
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func denseDiscriminator() throws {
        let f = try Fixture.load("models/dense_discriminator")
        var g = RandomGenerator(seed: 1)
        let model = DenseDiscriminator(imageShape: try f.config["image"].ints(), hidden: try f.config["hidden"].ints(),
                                       using: &g)
        #expect(try f.config["dropout"].string() == "disabled")
        model.isTraining = false  // the fixture disables dropout
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func dcganGenerator() throws {
        let f = try Fixture.load("models/dcgan_generator")
        var g = RandomGenerator(seed: 1)
        let model = DcganGenerator(noiseSize: try f.config["nz"].int(), filters: try f.config["ngf"].int(), using: &g)
        #expect(try f.config["mode"].string() == "train")
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func dcganDiscriminator() throws {
        let f = try Fixture.load("models/dcgan_discriminator")
        var g = RandomGenerator(seed: 1)
        let model = DcganDiscriminator(filters: try f.config["ndf"].int(), using: &g)
        #expect(try f.config["mode"].string() == "train")
        try check(f, model: model) { x, _ in model(x) }
    }

    @Test func leNet5() throws {
        let f = try Fixture.load("models/lenet5")
        var g = RandomGenerator(seed: 1)
        let model = LeNet5(using: &g)
        try check(f, model: model) { x, _ in model(x) }
        try f.expectMatch(model.features(try f.tensor("input")), "features")
    }
}

/// Parameter counts of the full-size reference models (docs/models.md#parameter-counts).
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
