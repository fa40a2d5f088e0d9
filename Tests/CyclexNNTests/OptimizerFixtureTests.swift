import CyclexEngine
import CyclexModels
import CyclexNN
import CyclexTestSupport
import Foundation
import Testing

/// Adam, gradient clipping, learning-rate schedules and the explanation gradient rules against
/// the PyTorch fixtures in `optim/` and `explain/gradient_rules`. Cases, parameter names, step
/// counts and hyper-parameters come from each file's metadata and tensor list.
///
/// The second-moment checks are what caught Adam forming 1 − β2 in Float (1.3e-5 relatively off);
/// the betas are doubles now, as in PyTorch.
struct OptimizerFixtureTests {
    /// The Adam file's parameter names (`config.shapes`) and the number of consecutive steps stored
    /// for `caseName` (`<case>.grad<k>.<name>`, k = 1, 2, ...).
    func adamLayout(_ f: Fixture, _ caseName: String) throws -> (names: [String], steps: Int) {
        let names = try f.config["shapes"].keys()
        var steps = 0
        while f.contains("\(caseName).grad\(steps + 1).\(names[0])") { steps += 1 }
        #expect(steps >= 2, "\(caseName): at least two consecutive steps")
        return (names, steps)
    }

    @Test func adam() throws {
        let f = try Fixture.load("optim/adam")
        let lr = try f.config["lr"].float(), eps = try f.config["eps"].float()
        let cases = try f.config["cases"].entries()
        #expect(!cases.isEmpty)
        for (caseName, cfg) in cases {
            let betas = try cfg["betas"].doubles()
            let (names, steps) = try adamLayout(f, caseName)
            let params = try names.map { try f.tensor("\(caseName).param.\($0)", requiresGradient: true) }
            for (name, p) in zip(names, params) { #expect(p.shape == (try f.config["shapes"][name].ints())) }
            let optimizer = Adam(parameters: params, learningRate: lr, beta1: betas[0], beta2: betas[1],
                                 epsilon: eps, weightDecay: try cfg["weight_decay"].float())
            for step in 1...steps {
                for (name, p) in zip(names, params) { p.gradient = try f.tensor("\(caseName).grad\(step).\(name)") }
                optimizer.step()
                for (i, name) in names.enumerated() {
                    try f.expectMatch(params[i], "\(caseName).after\(step).\(name)")
                    try f.expectMatch(optimizer.firstMoments[i], "\(caseName).exp_avg\(step).\(name)")
                    try f.expectMatch(optimizer.secondMoments[i], "\(caseName).exp_avg_sq\(step).\(name)")
                }
                #expect(optimizer.steps == Array(repeating: step, count: names.count))
            }
        }
    }

    /// The vectorised update (16 lanes and a scalar tail) gives exactly the bits of the formula
    /// written element by element, in torch's operation order: 87 elements = 5 blocks + 7 tail,
    /// with weight decay, over three steps (so the moments and bias corrections are exercised).
    @Test func adamLanesMatchTheScalarFormulaBitForBit() {
        let count = 87
        let start = (0..<count).map { Float(sin(Double($0) * 0.37)) }
        let param = Tensor(shape: [count], scalars: start, requiresGradient: true)
        let (lr, b1, b2, eps, wd): (Float, Double, Double, Float, Float) = (2e-3, 0.5, 0.999, 1e-8, 0.01)
        let optimizer = Adam(parameters: [param], learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
        var (theta, m, v) = (start, [Float](repeating: 0, count: count), [Float](repeating: 0, count: count))
        for step in 1...3 {
            let g = (0..<count).map { Float(cos(Double($0 * step) * 0.91)) * (($0 % 5 == 0) ? 1e-4 : 1) }
            param.gradient = Tensor(shape: [count], scalars: g)
            optimizer.step()
            let t = Double(step)
            let stepSize = Float(Double(lr) / (1 - pow(b1, t)))
            let correction2 = Float((1 - pow(b2, t)).squareRoot())
            for j in 0..<count {
                let gj = g[j] + wd * theta[j]
                m[j] = Float(b1) * m[j] + Float(1 - b1) * gj
                v[j] = Float(b2) * v[j] + Float(1 - b2) * gj * gj
                theta[j] -= stepSize * m[j] / (v[j].squareRoot() / correction2 + eps)
            }
            #expect(param.scalars == theta, "step \(step): parameters")
            #expect(optimizer.firstMoments[0].scalars == m && optimizer.secondMoments[0].scalars == v, "step \(step): moments")
        }
    }

    /// A parameter without a gradient is neither moved nor counted; the others step as usual.
    @Test func adamSkipsParametersWithoutGradient() throws {
        let f = try Fixture.load("optim/adam")
        let (caseName, cfg) = try #require(try f.config["cases"].entries().first)
        let (names, _) = try adamLayout(f, caseName)
        let betas = try cfg["betas"].doubles()
        let moving = try f.tensor("\(caseName).param.\(names[0])", requiresGradient: true)
        let frozen = try f.tensor("\(caseName).param.\(names[1])", requiresGradient: true)
        let before = frozen.scalars
        let optimizer = Adam(parameters: [moving, frozen], learningRate: try f.config["lr"].float(), beta1: betas[0],
                             beta2: betas[1], epsilon: try f.config["eps"].float(),
                             weightDecay: try cfg["weight_decay"].float())
        moving.gradient = try f.tensor("\(caseName).grad1.\(names[0])")
        optimizer.step()
        #expect(frozen.scalars == before)
        #expect(optimizer.steps == [1, 0])
        try f.expectMatch(moving, "\(caseName).after1.\(names[0])")
    }

    @Test func clipGradNorm() throws {
        let f = try Fixture.load("optim/clip_grad_norm")
        let maxNorm = try f.config["max_norm"].float()
        let cases = f.names(withPrefix: "").filter { $0.hasSuffix(".total_norm") }.map { String($0.dropLast(11)) }
        #expect(!cases.isEmpty)
        for caseName in cases {
            let names = f.names(withPrefix: "\(caseName).grad.")
            let params = try names.map { name -> Tensor in
                let g = try f.tensor("\(caseName).grad.\(name)")
                let p = Tensor(zeros: g.shape, requiresGradient: true)
                p.gradient = g
                return p
            }
            let (total, coefficient) = clipGradientNorm(params, maxNorm: maxNorm)
            try f.expectMatch(total, "\(caseName).total_norm")
            try f.expectMatch(coefficient, "\(caseName).clip_coef")
            #expect(total > maxNorm ? coefficient < 1 : coefficient == 1, "\(caseName)")
            for (name, p) in zip(names, params) {
                try f.expectMatch(try #require(p.gradient), "\(caseName).clipped.\(name)")
            }
        }
    }

    @Test func learningRateSchedules() throws {
        let f = try Fixture.load("optim/lr_schedules")
        let lr = try f.config["lr"].float()
        let junyanz = f.config["junyanz"]
        let (n, decay) = (try junyanz["n_epochs"].int(), try junyanz["n_epochs_decay"].int())
        let xai = f.config["xai_v0"], mask = f.config["mask_cgan"]
        let schedules: [String: LearningRateSchedule] = [
            "junyanz_end": .junyanzEnd(constantEpochs: n, decayEpochs: decay),
            "junyanz_start": .junyanzStart(constantEpochs: n, decayEpochs: decay),
            "xai_v0": .decayAfter(decayStart: try xai["decay_epoch"].int(), totalEpochs: try xai["epochs"].int()),
            "mask_cgan": .decayAfter(decayStart: try mask["decay_epoch"].int(), totalEpochs: try mask["epochs"].int()),
        ]
        let inFile = Set(f.names(withPrefix: "").filter { $0.hasSuffix(".factor") }.map { String($0.dropLast(7)) })
        #expect(inFile == Set(schedules.keys), "schedules in the file")
        for (name, schedule) in schedules {
            let epochs = try f.int64s("\(name).epoch").map(Int.init)
            #expect(epochs == Array(1...epochs.count), "\(name) epochs")
            let factors = epochs.map { schedule.factor(epoch: $0) }
            try f.expectMatch(Tensor(shape: [factors.count], scalars: factors), "\(name).factor")
            try f.expectMatch(Tensor(shape: [factors.count], scalars: factors.map { lr * $0 }), "\(name).lr")
        }
        #expect(LearningRateSchedule.constant.factor(epoch: 1000) == 1)
    }

    /// `--max-steps 6 --decay-steps 3`: three steps at the base rate, then 3/4, 2/4, 1/4 (the rate
    /// falls by 1/(d + 1) a step and the last step still trains); d = 0 never decays, d = T starts at once.
    @Test func stepLinearDecay() {
        let decay = StepLinearDecay(totalSteps: 6, decaySteps: 3)
        #expect((1...6).map { decay.factor(step: $0) } == [1, 1, 1, 0.75, 0.5, 0.25])
        #expect(decay.factor(step: 9) == 0.25, "past the budget: the last factor")
        #expect((1...4).map { StepLinearDecay(totalSteps: 4, decaySteps: 0).factor(step: $0) } == [1, 1, 1, 1])
        #expect((1...4).map { StepLinearDecay(totalSteps: 4, decaySteps: 4).factor(step: $0) } == [0.8, 0.6, 0.4, 0.2])
    }

    /// Each layer (`dense`, `conv` in `config`) with each rule whose gradients the file holds.
    @Test func gradientRules() throws {
        let f = try Fixture.load("explain/gradient_rules")
        let layers = try f.config.keys()
        #expect(!layers.isEmpty)
        for layer in layers {
            let rules = f.names(withPrefix: "\(layer).").filter { $0.hasSuffix(".grad_pre") }.map { String($0.dropLast(9)) }
            #expect(!rules.isEmpty, "\(layer): no rules")
            for rule in rules { try checkGradientRule(f, layer: layer, rule: rule) }
        }
    }

    func checkGradientRule(_ f: Fixture, layer: String, rule: String) throws {
        let h = try f.tensor("\(layer).h", requiresGradient: true)
        let weight = try f.tensor("\(layer).weight", requiresGradient: true)
        let bias = try f.tensor("\(layer).bias", requiresGradient: true)
        let e = try f.tensor("\(layer).E"), m = try f.tensor("\(layer).M")
        let pre: Tensor
        switch layer {
        case "dense":
            // The P outputs are the pixels of an image; the file stores pre and y in image shape.
            let image = try f.config[layer]["image"].ints()
            pre = h.linear(weight: weight, bias: bias).reshaped(to: [h.shape[0]] + image)
        case "conv": pre = h.conv2d(weight: weight, bias: bias, padding: (weight.shape[2] - 1) / 2)  // "same" size
        default: Issue.record("unknown layer \(layer)"); return
        }
        let y: Tensor
        switch rule {
        case "xai_cyclegan": y = pre.tanh(gradientRule: GradientRules.xaiCycleGAN(explanation: e))
        case "xaigan": y = pre.tanh(gradientRule: GradientRules.xaiGAN(mask: m))
        case "logicgan": y = pre.tanh(gradientRule: GradientRules.logicGAN(mask: m))
        case "plain": y = pre.tanh()
        default: Issue.record("unknown rule \(rule)"); return
        }
        try f.expectMatch(pre, "\(layer).pre")
        try f.expectMatch(y, "\(layer).y")
        let seed = try f.tensor("\(layer).grad_y")
        let gradPre = Tensor.gradients(of: y, withRespectTo: [pre], seed: seed)[0]
        y.backward(seed: seed)
        try f.expectMatch(gradPre, "\(layer).\(rule).grad_pre")
        try f.expectMatch(try #require(weight.gradient), "\(layer).\(rule).grad_weight")
        try f.expectMatch(try #require(bias.gradient), "\(layer).\(rule).grad_bias")
        try f.expectMatch(try #require(h.gradient), "\(layer).\(rule).grad_h")
    }
}
