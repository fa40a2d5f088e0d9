import CyclexEngine
import CyclexNN
import CyclexTestSupport
import Foundation
import Testing

/// Adam, gradient clipping, learning-rate schedules and the explanation gradient rules against
/// the PyTorch fixtures in `optim/` and `explain/gradient_rules`.
///
/// The second-moment checks are what caught Adam forming 1 − β2 in Float (1.3e-5 relatively off);
/// the betas are doubles now, as in PyTorch.
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct OptimizerFixtureTests {
    func expectMatch(_ f: Fixture, _ actual: Tensor, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let c = try f.compare(actual, with: name)
        #expect(c.passed, "\(c)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["b0999_wd0", "b0999_wd1e-5", "b099_wd0", "b099_wd1e-5"])
    func adam(caseName: String) throws {
        let f = try #require(try Fixture.load("optim/adam"))
        let cfg = try #require((f.config["cases"] as? [String: [String: Any]])?[caseName])
        let betas = try #require(cfg["betas"] as? [Double])
        let weightDecay = try #require((cfg["weight_decay"] as? NSNumber)?.floatValue)
        let lr = try #require((f.config["lr"] as? NSNumber)?.floatValue)
        let eps = try #require((f.config["eps"] as? NSNumber)?.floatValue)
        #expect(lr == 2e-4 && eps == 1e-8)

        let names = ["w", "b", "m"]
        let params = try names.map { try f.tensor("\(caseName).param.\($0)", requiresGradient: true) }
        let adam = Adam(parameters: params, learningRate: lr, beta1: betas[0], beta2: betas[1],
                        epsilon: eps, weightDecay: weightDecay)
        for step in 1...3 {
            for (name, p) in zip(names, params) { p.gradient = try f.tensor("\(caseName).grad\(step).\(name)") }
            adam.step()
            for (i, name) in names.enumerated() {
                try expectMatch(f, params[i], "\(caseName).after\(step).\(name)")
                try expectMatch(f, adam.firstMoments[i], "\(caseName).exp_avg\(step).\(name)")
                try expectMatch(f, adam.secondMoments[i], "\(caseName).exp_avg_sq\(step).\(name)")
            }
            #expect(adam.steps == [step, step, step])
        }
    }

    @Test func adamSkipsParametersWithoutGradient() throws {
        let f = try #require(try Fixture.load("optim/adam"))
        let w = try f.tensor("b0999_wd0.param.w", requiresGradient: true)
        let frozen = try f.tensor("b0999_wd0.param.b", requiresGradient: true)
        let before = frozen.scalars
        let adam = Adam(parameters: [w, frozen], learningRate: 2e-4, beta1: 0.5)
        w.gradient = try f.tensor("b0999_wd0.grad1.w")
        adam.step()
        #expect(frozen.scalars == before)
        #expect(adam.steps == [1, 0])
        try expectMatch(f, w, "b0999_wd0.after1.w")
    }

    @Test(arguments: ["active", "inactive"])
    func clipGradNorm(caseName: String) throws {
        let f = try #require(try Fixture.load("optim/clip_grad_norm"))
        let maxNorm = try #require((f.config["max_norm"] as? NSNumber)?.floatValue)
        let names = ["a", "b", "c"]
        let params = try names.map { name -> Tensor in
            let g = try f.tensor("\(caseName).grad.\(name)")
            let p = Tensor(zeros: g.shape, requiresGradient: true)
            p.gradient = g
            return p
        }
        let (total, coefficient) = clipGradientNorm(params, maxNorm: maxNorm)
        try expectMatch(f, Tensor(total), "\(caseName).total_norm")
        try expectMatch(f, Tensor(coefficient), "\(caseName).clip_coef")
        #expect(caseName == "active" ? total > maxNorm && coefficient < 1 : total < maxNorm && coefficient == 1)
        for (name, p) in zip(names, params) {
            try expectMatch(f, try #require(p.gradient), "\(caseName).clipped.\(name)")
        }
    }

    @Test func learningRateSchedules() throws {
        let f = try #require(try Fixture.load("optim/lr_schedules"))
        let lr = try #require((f.config["lr"] as? NSNumber)?.floatValue)
        let junyanz = try #require(f.config["junyanz"] as? [String: Any])
        let (n, decay) = (try #require(junyanz["n_epochs"] as? Int), try #require(junyanz["n_epochs_decay"] as? Int))
        let xai = try #require(f.config["xai_v0"] as? [String: Any])
        let mask = try #require(f.config["mask_cgan"] as? [String: Any])
        let schedules: [(String, LearningRateSchedule)] = [
            ("junyanz_end", .junyanzEnd(constantEpochs: n, decayEpochs: decay)),
            ("junyanz_start", .junyanzStart(constantEpochs: n, decayEpochs: decay)),
            ("xai_v0", .decayAfter(decayStart: xai["decay_epoch"] as! Int, totalEpochs: xai["epochs"] as! Int)),
            ("mask_cgan", .decayAfter(decayStart: mask["decay_epoch"] as! Int, totalEpochs: mask["epochs"] as! Int)),
        ]
        for (name, schedule) in schedules {
            let epochs = try f.int64s("\(name).epoch").map(Int.init)
            #expect(epochs == Array(1...epochs.count), "\(name) epochs")
            let factors = epochs.map { schedule.factor(epoch: $0) }
            try expectMatch(f, Tensor(shape: [factors.count], scalars: factors), "\(name).factor")
            try expectMatch(f, Tensor(shape: [factors.count], scalars: factors.map { lr * $0 }), "\(name).lr")
        }
        #expect(LearningRateSchedule.constant.factor(epoch: 1000) == 1)
    }

    @Test(arguments: ["dense", "conv"], ["plain", "xai_cyclegan", "xaigan", "logicgan"])
    func gradientRules(layer: String, rule: String) throws {
        let f = try #require(try Fixture.load("explain/gradient_rules"))
        let h = try f.tensor("\(layer).h", requiresGradient: true)
        let weight = try f.tensor("\(layer).weight", requiresGradient: true)
        let bias = try f.tensor("\(layer).bias", requiresGradient: true)
        let e = try f.tensor("\(layer).E"), m = try f.tensor("\(layer).M")
        let pre = layer == "dense" ? h.linear(weight: weight, bias: bias) : h.conv2d(weight: weight, bias: bias, padding: 1)
        var captured: Tensor?
        pre.registerGradientHook { g in
            captured = g
            return g
        }
        let y: Tensor
        switch rule {
        case "xai_cyclegan": y = pre.tanh(gradientRule: GradientRules.xaiCycleGAN(explanation: e))
        case "xaigan": y = pre.tanh(gradientRule: GradientRules.xaiGAN(mask: m))
        case "logicgan": y = pre.tanh(gradientRule: GradientRules.logicGAN(mask: m))
        default: y = pre.tanh()
        }
        try expectMatch(f, pre, "\(layer).pre")
        try expectMatch(f, y, "\(layer).y")
        // Dense: y is [3, 16], grad_y has the image shape [3, 1, 4, 4].
        y.backward(seed: try f.tensor("\(layer).grad_y").reshaped(to: y.shape))
        try expectMatch(f, try #require(captured, "hook on pre did not fire"), "\(layer).\(rule).grad_pre")
        try expectMatch(f, try #require(weight.gradient), "\(layer).\(rule).grad_weight")
        try expectMatch(f, try #require(bias.gradient), "\(layer).\(rule).grad_bias")
        try expectMatch(f, try #require(h.gradient), "\(layer).\(rule).grad_h")
    }
}
