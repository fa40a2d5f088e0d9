import CyclexEngine
import CyclexTestSupport
import Foundation
import Testing

/// Every op's forward and backward against the PyTorch fixtures in `ops/`.
/// Backward passes differentiate sum(output · grad_output), as the fixtures do.
///
/// Every case listed in a file's `config.cases` is run with the settings it gives (stride, padding,
/// slope, dims, ...); a case this suite does not know fails, so a regenerated set cannot silently
/// check less.
struct OpFixtureTests {
    /// Runs `op` on the case's inputs (leaves needing gradients), back-propagates
    /// `grad_output`, and checks `output` and each `grad_<input>` present in the file.
    func check(
        _ fixture: Fixture, case name: String, inputs: [String], sourceLocation: SourceLocation = #_sourceLocation,
        _ op: ([String: Tensor]) throws -> Tensor
    ) throws {
        var leaves: [String: Tensor] = [:]
        for input in inputs where fixture.contains("\(name).\(input)") {
            leaves[input] = try fixture.tensor("\(name).\(input)", requiresGradient: true)
        }
        let output = try op(leaves)
        try fixture.expectMatch(output, "\(name).output", sourceLocation: sourceLocation)
        output.backward(seed: try fixture.tensor("\(name).grad_output"))
        for input in inputs where fixture.contains("\(name).grad_\(input)") {
            let leaf = try #require(leaves[input], "\(name): the file has grad_\(input) but no \(input)")
            let g = try #require(leaf.gradient, "\(name): no gradient reached \(input)", sourceLocation: sourceLocation)
            try fixture.expectMatch(g, "\(name).grad_\(input)", sourceLocation: sourceLocation)
        }
    }

    /// The file's cases, sorted by name; at least one.
    func cases(_ fixture: Fixture) throws -> [(key: String, value: FixtureValue)] {
        let all = try fixture.config["cases"].entries()
        #expect(!all.isEmpty, "\(fixture.name) lists no cases")
        return all
    }

    func unknown(_ fixture: Fixture, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        Issue.record("\(fixture.name): case \(name) is not known to this test", sourceLocation: sourceLocation)
    }

    /// Every case with large kernels on the direct kernels (the default) and on im2col + sgemm.
    @Test(arguments: [true, false]) func conv2d(largeKernelsDirect: Bool) throws {
        let f = try Fixture.load("ops/conv2d")
        try DirectConvolution.$largeKernelsOverride.withValue(largeKernelsDirect) {
            for (name, cfg) in try cases(f) {
                let (stride, padding) = (try cfg["stride"].int(), try cfg["padding"].int())
                #expect(try cfg["bias"].bool() == f.contains("\(name).bias"), "\(name) bias")
                try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                    t["input"]!.conv2d(weight: t["weight"]!, bias: t["bias"], stride: stride, padding: padding)
                }
            }
        }
    }

    @Test func transposedConv2d() throws {
        let f = try Fixture.load("ops/conv_transpose2d")
        for (name, cfg) in try cases(f) {
            let (stride, padding) = (try cfg["stride"].int(), try cfg["padding"].int())
            let outputPadding = try cfg["output_padding"].int()
            #expect(try cfg["bias"].bool() == f.contains("\(name).bias"), "\(name) bias")
            try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                t["input"]!.transposedConv2d(
                    weight: t["weight"]!, bias: t["bias"], stride: stride, padding: padding, outputPadding: outputPadding)
            }
        }
    }

    @Test func padding() throws {
        let f = try Fixture.load("ops/padding")
        for (name, cfg) in try cases(f) {
            let amount = try cfg["pad"].int()
            let mode: PaddingMode
            switch try cfg["mode"].string() {
            case "reflection": mode = .reflect
            case "zero": mode = .zero
            case let other: Issue.record("\(name): padding mode \(other)"); continue
            }
            try check(f, case: name, inputs: ["input"]) { $0["input"]!.padded(by: amount, mode: mode) }
        }
    }

    @Test func normalisation() throws {
        let f = try Fixture.load("ops/norm")
        for (name, cfg) in try cases(f) {
            guard cfg["mode"].exists else {
                // Instance norm: PyTorch's default eps.
                let epsilon = cfg["eps"].exists ? try cfg["eps"].float() : 1e-5
                try check(f, case: name, inputs: ["input"]) { $0["input"]!.instanceNormalized(epsilon: epsilon) }
                continue
            }
            let training = try cfg["mode"].string() == "train"
            let epsilon = try cfg["eps"].float()
            let momentum = training ? try cfg["momentum"].float() : 0
            let runningMean = try f.tensor("\(name).running_mean")
            let runningVariance = try f.tensor("\(name).running_var")
            try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                t["input"]!.batchNormalized(
                    weight: t["weight"]!, bias: t["bias"]!, runningMean: runningMean,
                    runningVariance: runningVariance, isTraining: training, momentum: momentum, epsilon: epsilon)
            }
            if training {
                try f.expectMatch(runningMean, "\(name).running_mean_after")
                try f.expectMatch(runningVariance, "\(name).running_var_after")
            }
        }
    }

    @Test func linear() throws {
        let f = try Fixture.load("ops/linear")
        for (name, _) in try cases(f) {
            try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                t["input"]!.linear(weight: t["weight"]!, bias: t["bias"])
            }
        }
    }

    @Test func activations() throws {
        let f = try Fixture.load("ops/activations")
        for (name, cfg) in try cases(f) {
            let op: (Tensor) throws -> Tensor
            switch name {
            case "relu": op = { $0.relu() }
            case "leaky_relu": op = { $0.leakyRelu(slope: try cfg["negative_slope"].float()) }
            case "tanh": op = { $0.tanh() }
            case "sigmoid": op = { $0.sigmoid() }
            case "elu", "elu_neg_alpha": op = { $0.elu(alpha: try cfg["alpha"].float()) }
            case "gelu": op = { $0.gelu() }
            case "log_softmax":
                // The engine's log-softmax runs over the last axis.
                #expect(try cfg["dim"].int() == -1)
                op = { $0.logSoftmax() }
            case "dropout_given_mask":
                let mask = try f.tensor("\(name).mask")
                op = { $0.dropout(probability: try cfg["p"].float(), keepMask: mask) }
            default: unknown(f, name); continue
            }
            try check(f, case: name, inputs: ["input"]) { try op($0["input"]!) }
        }
    }

    @Test func pooling() throws {
        let f = try Fixture.load("ops/pooling")
        for (name, cfg) in try cases(f) {
            if name.hasPrefix("adaptive_max_1x1") {
                try check(f, case: name, inputs: ["input"]) { $0["input"]!.spatialMax() }
                let input = try f.tensor("\(name).input")
                let indices = input.spatialArgmax()
                try f.expectMatch(indices, shape: Array(input.shape.prefix(2)) + [1, 1], "\(name).indices")
            } else if name.hasPrefix("max_pool") {
                // The engine has the 2×2, stride-2 pool the LeNet uses.
                #expect(try cfg["kernel"].int() == 2 && cfg["stride"].int() == 2, "\(name): only 2×2 stride 2 exists")
                try check(f, case: name, inputs: ["input"]) { $0["input"]!.maxPooled2x2() }
            } else {
                unknown(f, name)
            }
        }
    }

    @Test func elementwise() throws {
        let f = try Fixture.load("ops/elementwise")
        for (name, cfg) in try cases(f) {
            let op: ([String: Tensor]) throws -> Tensor
            switch name {
            case "mean_all": op = { $0["input"]!.mean() }
            case "sum_all": op = { $0["input"]!.sum() }
            case "mean_hw", "sum_c":
                let axes = try cfg["dims"].ints(), keep = try cfg["keepdim"].bool()
                op = name == "mean_hw"
                    ? { $0["input"]!.mean(alongAxes: axes, keepingDimensions: keep) }
                    : { $0["input"]!.sum(alongAxes: axes, keepingDimensions: keep) }
            case "one_minus": op = { 1 - $0["input"]! }
            case "scale": op = { $0["input"]! * (try cfg["factor"].float()) }
            case "concat_c": op = { Tensor.concatenate([$0["input"]!, $0["other"]!], alongAxis: try cfg["dim"].int()) }
            case "add_bcast": op = { $0["input"]! + $0["other"]! }
            case "mul_bcast": op = { $0["input"]! * $0["other"]! }
            case "sub_bcast": op = { $0["input"]! - $0["other"]! }
            default: unknown(f, name); continue
            }
            try check(f, case: name, inputs: ["input", "other"], op)
        }
    }

    @Test func losses() throws {
        let f = try Fixture.load("ops/losses")
        for (name, cfg) in try cases(f) {
            let target = try f.tensor("\(name).target")
            let op: (Tensor) throws -> Tensor
            switch name {
            case "mse": op = { $0.mseLoss(target: target) }
            case "l1": op = { $0.l1Loss(target: target) }
            case "bce", "bce_clamp": op = { $0.bceLoss(target: target) }
            case "bce_with_logits", "bce_with_logits_large": op = { $0.bceWithLogitsLoss(target: target) }
            case "huber": op = { $0.huberLoss(target: target, delta: try cfg["delta"].float()) }
            default: unknown(f, name); continue
            }
            try check(f, case: name, inputs: ["input"]) { try op($0["input"]!) }
        }
    }
}
