import CyclexEngine
import CyclexTestSupport
import Foundation
import Testing

/// Every op's forward and backward against the PyTorch fixtures in `ops/`.
/// Backward passes differentiate sum(output · grad_output), as the fixtures do.
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct OpFixtureTests {
    /// Runs `op` on the case's inputs (leaves needing gradients), back-propagates
    /// `grad_output`, and checks `output` and each `grad_<input>` present in the file.
    func check(
        _ fixture: Fixture, case name: String, inputs: [String], gradients: [String: String] = [:],
        _ op: ([String: Tensor]) -> Tensor
    ) throws {
        var leaves: [String: Tensor] = [:]
        for input in inputs where fixture.contains("\(name).\(input)") {
            leaves[input] = try fixture.tensor("\(name).\(input)", requiresGradient: true)
        }
        let output = op(leaves)
        let c = try fixture.compare(output, with: "\(name).output")
        #expect(c.passed, "\(c)")
        output.backward(seed: try fixture.tensor("\(name).grad_output"))
        for input in inputs {
            let gradName = gradients[input] ?? "grad_\(input)"
            guard fixture.contains("\(name).\(gradName)"), let leaf = leaves[input] else { continue }
            let g = try #require(leaf.gradient, "\(name): no gradient reached \(input)")
            let cg = try fixture.compare(g, with: "\(name).\(gradName)")
            #expect(cg.passed, "\(cg)")
        }
    }

    func cases(_ fixture: Fixture) -> [String: [String: Any]] {
        (fixture.config["cases"] as? [String: [String: Any]]) ?? [:]
    }

    @Test func conv2d() throws {
        let f = try #require(try Fixture.load("ops/conv2d"))
        let all = cases(f)
        #expect(all.count == 9)
        for (name, cfg) in all {
            let stride = cfg["stride"] as! Int, padding = cfg["padding"] as! Int
            try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                t["input"]!.conv2d(weight: t["weight"]!, bias: t["bias"], stride: stride, padding: padding)
            }
        }
    }

    @Test func transposedConv2d() throws {
        let f = try #require(try Fixture.load("ops/conv_transpose2d"))
        let all = cases(f)
        #expect(all.count == 5)
        for (name, cfg) in all {
            let stride = cfg["stride"] as! Int, padding = cfg["padding"] as! Int
            let outputPadding = cfg["output_padding"] as! Int
            try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                t["input"]!.transposedConv2d(
                    weight: t["weight"]!, bias: t["bias"], stride: stride, padding: padding, outputPadding: outputPadding)
            }
        }
    }

    @Test func padding() throws {
        let f = try #require(try Fixture.load("ops/padding"))
        for (name, amount, mode) in [("reflect1", 1, PaddingMode.reflect), ("reflect3", 3, .reflect),
                                     ("zero1", 1, .zero), ("zero2", 2, .zero)] {
            try check(f, case: name, inputs: ["input"]) { $0["input"]!.padded(by: amount, mode: mode) }
        }
    }

    @Test func instanceNorm() throws {
        let f = try #require(try Fixture.load("ops/norm"))
        for name in ["instance_norm", "instance_norm_offset"] {
            try check(f, case: name, inputs: ["input"]) { $0["input"]!.instanceNormalized() }
        }
    }

    @Test func batchNorm() throws {
        let f = try #require(try Fixture.load("ops/norm"))
        for (name, training) in [("batch_norm_train", true), ("batch_norm_eval", false)] {
            let runningMean = try f.tensor("\(name).running_mean")
            let runningVariance = try f.tensor("\(name).running_var")
            try check(f, case: name, inputs: ["input", "weight", "bias"]) { t in
                t["input"]!.batchNormalized(
                    weight: t["weight"]!, bias: t["bias"]!, runningMean: runningMean,
                    runningVariance: runningVariance, isTraining: training)
            }
            if training {
                for (buffer, ref) in [(runningMean, "running_mean_after"), (runningVariance, "running_var_after")] {
                    let c = try f.compare(buffer, with: "\(name).\(ref)")
                    #expect(c.passed, "\(c)")
                }
            }
        }
    }

    @Test func linear() throws {
        let f = try #require(try Fixture.load("ops/linear"))
        try check(f, case: "linear", inputs: ["input", "weight", "bias"]) { t in
            t["input"]!.linear(weight: t["weight"]!, bias: t["bias"])
        }
    }

    @Test func activations() throws {
        let f = try #require(try Fixture.load("ops/activations"))
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("relu", { $0.relu() }), ("leaky_relu", { $0.leakyRelu(slope: 0.2) }), ("tanh", { $0.tanh() }),
            ("sigmoid", { $0.sigmoid() }), ("elu", { $0.elu(alpha: 1) }),
            ("elu_neg_alpha", { $0.elu(alpha: -1.72879524581) }), ("gelu", { $0.gelu() }),
            ("log_softmax", { $0.logSoftmax() }),
        ]
        for (name, op) in ops {
            try check(f, case: name, inputs: ["input"]) { op($0["input"]!) }
        }
        let mask = try f.tensor("dropout_given_mask.mask")
        try check(f, case: "dropout_given_mask", inputs: ["input"]) { $0["input"]!.dropout(probability: 0.3, keepMask: mask) }
    }

    @Test func pooling() throws {
        let f = try #require(try Fixture.load("ops/pooling"))
        for name in ["adaptive_max_1x1", "adaptive_max_1x1_channels", "adaptive_max_1x1_ties"] {
            try check(f, case: name, inputs: ["input"]) { $0["input"]!.spatialMax() }
            let indices = try f.tensor("\(name).input").spatialArgmax()
            #expect(indices.map(Int64.init) == (try f.int64s("\(name).indices")), "\(name) indices")
        }
        for name in ["max_pool_2x2", "max_pool_2x2_odd", "max_pool_2x2_ties"] {
            try check(f, case: name, inputs: ["input"]) { $0["input"]!.maxPooled2x2() }
        }
    }

    @Test func elementwise() throws {
        let f = try #require(try Fixture.load("ops/elementwise"))
        let unary: [(String, (Tensor) -> Tensor)] = [
            ("mean_all", { $0.mean() }), ("sum_all", { $0.sum() }),
            ("mean_hw", { $0.mean(alongAxes: [2, 3], keepingDimensions: true) }),
            ("sum_c", { $0.sum(alongAxes: [1]) }), ("one_minus", { 1 - $0 }), ("scale", { $0 * 1.5 }),
        ]
        for (name, op) in unary { try check(f, case: name, inputs: ["input"]) { op($0["input"]!) } }
        let binary: [(String, (Tensor, Tensor) -> Tensor)] = [
            ("concat_c", { Tensor.concatenate([$0, $1], alongAxis: 1) }), ("add_bcast", { $0 + $1 }),
            ("mul_bcast", { $0 * $1 }), ("sub_bcast", { $0 - $1 }),
        ]
        for (name, op) in binary {
            try check(f, case: name, inputs: ["input", "other"]) { op($0["input"]!, $0["other"]!) }
        }
    }

    @Test func losses() throws {
        let f = try #require(try Fixture.load("ops/losses"))
        let ops: [(String, (Tensor, Tensor) -> Tensor)] = [
            ("mse", { $0.mseLoss(target: $1) }), ("l1", { $0.l1Loss(target: $1) }),
            ("bce", { $0.bceLoss(target: $1) }), ("bce_clamp", { $0.bceLoss(target: $1) }),
            ("bce_with_logits", { $0.bceWithLogitsLoss(target: $1) }),
            ("bce_with_logits_large", { $0.bceWithLogitsLoss(target: $1) }),
            ("huber", { $0.huberLoss(target: $1, delta: 1) }),
        ]
        for (name, op) in ops {
            let target = try f.tensor("\(name).target")
            try check(f, case: name, inputs: ["input"]) { op($0["input"]!, target) }
        }
    }
}
