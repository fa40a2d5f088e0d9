import CyclexEngine
import CyclexTestSupport
import Testing

// Finite-difference checks of every differentiable op, independent of the PyTorch fixtures.
//
// For each case the scalar loss is L = Σ output ⊙ W with a fixed random W (so every output
// element matters). The analytic gradient is `output.backward(seed: W)`; the numeric one is the
// central difference (L(x + h) − L(x − h)) / (2h) per input element, with L summed in Double
// from the float32 forward. Inputs of non-smooth ops are drawn away from their kinks (|x| ≥ 0.1
// for ReLU-like ops and abs, gaps ≥ 0.1 between candidates of a max, |x − t| ≥ 0.1 for L1).

// MARK: - The checker

/// Checks the gradients of `f` with respect to `inputs[differentiate]` (default: all) against
/// central differences. An element passes when |analytic − numeric| ≤ floor + rtol·|numeric|,
/// floor = max(1e-4, 1e-3 · the largest |gradient| of that input) unless given. Each problem is
/// recorded at the caller's line.
func checkGradients(
    _ label: String, inputs: [Tensor], differentiate: [Int]? = nil, step h: Float = 1e-2,
    relativeTolerance rtol: Double = 1e-2, absoluteTolerance: Double? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
) {
    let problems = gradientProblems(label, inputs: inputs, differentiate: differentiate, step: h,
                                    relativeTolerance: rtol, absoluteTolerance: absoluteTolerance, f)
    for problem in problems { Issue.record(Comment(rawValue: problem), sourceLocation: sourceLocation) }
}

/// The checker's core: the problems found (empty when every gradient agrees), without recording
/// anything, so the checker itself can be tested on a wrong gradient.
func gradientProblems(
    _ label: String, inputs: [Tensor], differentiate: [Int]? = nil, step h: Float = 1e-2,
    relativeTolerance rtol: Double = 1e-2, absoluteTolerance: Double? = nil, _ f: ([Tensor]) -> Tensor
) -> [String] {
    let which = differentiate ?? Array(inputs.indices)
    for (i, x) in inputs.enumerated() {
        x.requiresGradient = which.contains(i)
        x.zeroGradient()
    }
    let output = f(inputs)
    var rng = RandomGenerator(seed: 0x5EED_CAFE)
    let weight = Tensor(randomNormal: output.shape, using: &rng)
    let w = weight.scalars.map(Double.init)
    guard output.requiresGradient else { return ["\(label): output has no gradient history"] }
    output.backward(seed: weight)

    func loss() -> Double {
        withoutGradient {
            let o = f(inputs)
            precondition(o.count == w.count, "\(label): output size changed")
            var s: Double = 0
            for k in 0..<w.count { s += Double(o.pointer[k]) * w[k] }
            return s
        }
    }

    var problems: [String] = []
    for i in which {
        let x = inputs[i]
        guard let gradient = x.gradient else {
            problems.append("\(label): no gradient reached input \(i) \(x.shape)")
            continue
        }
        if gradient.shape != x.shape {
            problems.append("\(label): gradient shape \(gradient.shape) of input \(i) \(x.shape)")
            continue
        }
        let analytic = gradient.scalars
        var numeric = [Double](repeating: 0, count: x.count)
        for j in 0..<x.count {
            let v = x.pointer[j]
            let (up, down) = (v + h, v - h)
            x.pointer[j] = up
            let lp = loss()
            x.pointer[j] = down
            let lm = loss()
            x.pointer[j] = v
            numeric[j] = (lp - lm) / (Double(up) - Double(down))
        }
        let scale = max(numeric.map(Swift.abs).max() ?? 0, analytic.map { Double(Swift.abs($0)) }.max() ?? 0)
        let floor = absoluteTolerance ?? max(1e-4, 1e-3 * scale)
        var worst: Double = 0
        var bad: [String] = []
        for j in 0..<x.count {
            let err = Swift.abs(Double(analytic[j]) - numeric[j])
            worst = max(worst, err)
            if !(err <= floor + rtol * Swift.abs(numeric[j])) && bad.count < 5 {
                bad.append("\(Comparison.index(j, in: x.shape)) analytic \(analytic[j]) numeric \(numeric[j])")
            }
        }
        if !bad.isEmpty {
            problems.append("\(label): input \(i) \(x.shape): worst |diff| \(worst) (floor \(floor)); \(bad.joined(separator: ", "))")
        }
    }
    return problems
}

// MARK: - Input generators

/// Seeded inputs for the checks; each test owns one, so tests are independent of their order.
struct Inputs {
    var rng: RandomGenerator

    init(seed: UInt64) { rng = RandomGenerator(seed: seed) }

    mutating func normal(_ shape: [Int], std: Float = 1) -> Tensor {
        Tensor(randomNormal: shape, standardDeviation: std, using: &rng)
    }

    mutating func uniform(_ shape: [Int], _ lower: Float, _ upper: Float) -> Tensor {
        Tensor(randomUniform: shape, lowerBound: lower, upperBound: upper, using: &rng)
    }

    /// Normal values pushed away from 0 by `margin` (for kinks at 0).
    mutating func awayFromZero(_ shape: [Int], margin: Float = 0.1) -> Tensor {
        let t = normal(shape)
        return Tensor(shape: shape, scalars: t.scalars.map { $0 >= 0 ? $0 + margin : $0 - margin })
    }

    /// Nonzero values of either sign with |x| in [0.5, 1.5] (divisors).
    mutating func divisor(_ shape: [Int]) -> Tensor {
        let t = uniform(shape, 0.5, 1.5)
        return Tensor(shape: shape, scalars: t.scalars.map { rng.nextUniformFloat() < 0.5 ? -$0 : $0 })
    }

    /// A random permutation of 0, 0.1, 0.2, ... shifted by -n/20: all values distinct with gaps
    /// of 0.1 (for max pooling: no near-ties).
    mutating func distinct(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var values = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
        values.shuffle(using: &rng)
        return Tensor(shape: shape, scalars: values)
    }
}

// MARK: - Tests

@Suite struct GradientCheckTests {
    @Test func broadcastingArithmetic() {
        var r = Inputs(seed: 1)
        let pairs: [([Int], [Int])] = [
            ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([2, 3, 4], [4]), ([2, 3, 4], [2, 1, 4]),
            ([2, 3, 4], [1]), ([2, 3, 4], []), ([3, 1], [1, 4]), ([1], [2, 3]),
        ]
        for (sa, sb) in pairs {
            checkGradients("add \(sa) \(sb)", inputs: [r.normal(sa), r.normal(sb)]) { $0[0] + $0[1] }
            checkGradients("sub \(sa) \(sb)", inputs: [r.normal(sa), r.normal(sb)]) { $0[0] - $0[1] }
            checkGradients("mul \(sa) \(sb)", inputs: [r.normal(sa), r.normal(sb)]) { $0[0] * $0[1] }
            checkGradients("div \(sa) \(sb)", inputs: [r.normal(sa), r.divisor(sb)]) { $0[0] / $0[1] }
        }
        // One operand only (the other is a constant).
        checkGradients("mul, left only", inputs: [r.normal([2, 3]), r.normal([3])], differentiate: [0]) { $0[0] * $0[1] }
        checkGradients("div, right only", inputs: [r.normal([2, 3]), r.divisor([2, 1])], differentiate: [1]) { $0[0] / $0[1] }
    }

    @Test func scalarOperations() {
        var r = Inputs(seed: 2)
        let cases: [(String, (Tensor) -> Tensor)] = [
            ("x * s", { $0 * 1.7 }), ("s * x", { -0.6 * $0 }), ("x / s", { $0 / 2.5 }),
            ("x + s", { $0 + 0.3 }), ("s + x", { 0.3 + $0 }), ("x - s", { $0 - 0.8 }), ("s - x", { 1 - $0 }),
            ("-x", { -$0 }), ("squared", { $0.squared() }),
        ]
        for (name, op) in cases {
            checkGradients(name, inputs: [r.normal([3, 4])]) { op($0[0]) }
        }
        checkGradients("abs", inputs: [r.awayFromZero([3, 5])]) { $0[0].abs() }
    }

    @Test func matmulAndLinear() {
        var r = Inputs(seed: 3)
        checkGradients("matmul", inputs: [r.normal([3, 4]), r.normal([4, 5])]) { Tensor.matmul($0[0], $0[1]) }
        checkGradients("matmul 1xK", inputs: [r.normal([1, 6]), r.normal([6, 2])]) { Tensor.matmul($0[0], $0[1]) }
        checkGradients("linear+bias", inputs: [r.normal([3, 5]), r.normal([4, 5]), r.normal([4])]) {
            $0[0].linear(weight: $0[1], bias: $0[2])
        }
        checkGradients("linear", inputs: [r.normal([2, 6]), r.normal([3, 6])]) { $0[0].linear(weight: $0[1], bias: nil) }
    }

    @Test(arguments: [
        // (kernel, stride, padding, bias)
        (3, 1, 1, true), (3, 1, 0, false), (3, 2, 1, true), (4, 2, 1, true), (1, 1, 0, true), (1, 1, 0, false),
        (7, 1, 3, true), (2, 2, 0, false), (5, 3, 2, true),
    ])
    func conv2d(kernel: Int, stride: Int, padding: Int, bias: Bool) {
        var r = Inputs(seed: UInt64(100 + kernel * 16 + stride * 4 + padding))
        let size = max(6, kernel)
        let x = r.normal([2, 3, size, size - 1]), w = r.normal([4, 3, kernel, kernel], std: 0.3)
        let inputs = bias ? [x, w, r.normal([4])] : [x, w]
        checkGradients("conv2d k\(kernel) s\(stride) p\(padding) bias \(bias)", inputs: inputs) { t in
            t[0].conv2d(weight: t[1], bias: bias ? t[2] : nil, stride: stride, padding: padding)
        }
    }

    @Test(arguments: [
        // (kernel, stride, padding, outputPadding, bias)
        (3, 2, 1, 1, true), (4, 2, 1, 0, true), (3, 1, 1, 0, false), (4, 2, 1, 0, false), (3, 2, 0, 0, true),
    ])
    func transposedConv2d(kernel: Int, stride: Int, padding: Int, outputPadding: Int, bias: Bool) {
        var r = Inputs(seed: UInt64(200 + kernel * 16 + stride * 4 + padding + outputPadding))
        let x = r.normal([2, 3, 4, 3]), w = r.normal([3, 2, kernel, kernel], std: 0.3)
        let inputs = bias ? [x, w, r.normal([2])] : [x, w]
        checkGradients("transposedConv2d k\(kernel) s\(stride) p\(padding) op\(outputPadding) bias \(bias)", inputs: inputs) { t in
            t[0].transposedConv2d(weight: t[1], bias: bias ? t[2] : nil, stride: stride, padding: padding,
                                  outputPadding: outputPadding)
        }
    }

    @Test func padding() {
        var r = Inputs(seed: 4)
        for (amount, mode) in [(1, PaddingMode.reflect), (2, .reflect), (3, .reflect), (1, .zero), (2, .zero)] {
            checkGradients("pad \(amount) \(mode)", inputs: [r.normal([2, 2, 4, 5])]) { $0[0].padded(by: amount, mode: mode) }
        }
    }

    @Test func normalization() {
        var r = Inputs(seed: 5)
        checkGradients("instanceNorm", inputs: [r.normal([2, 3, 4, 4])]) { $0[0].instanceNormalized() }
        checkGradients("instanceNorm offset", inputs: [r.normal([1, 2, 3, 5]) + 3]) { $0[0].instanceNormalized() }
        // Training mode updates the running statistics in place: fresh buffers per evaluation.
        checkGradients("batchNorm train", inputs: [r.normal([3, 2, 3, 3]), r.normal([2]), r.normal([2])]) { t in
            t[0].batchNormalized(weight: t[1], bias: t[2], runningMean: Tensor(zeros: [2]),
                                 runningVariance: Tensor(repeating: 1, shape: [2]), isTraining: true)
        }
        checkGradients("batchNorm train 2d", inputs: [r.normal([5, 3]), r.normal([3]), r.normal([3])]) { t in
            t[0].batchNormalized(weight: t[1], bias: t[2], runningMean: Tensor(zeros: [3]),
                                 runningVariance: Tensor(repeating: 1, shape: [3]), isTraining: true)
        }
        let (mean, variance) = (r.normal([2]), r.uniform([2], 0.5, 2))
        checkGradients("batchNorm eval", inputs: [r.normal([2, 2, 3, 3]), r.normal([2]), r.normal([2])]) { t in
            t[0].batchNormalized(weight: t[1], bias: t[2], runningMean: mean, runningVariance: variance, isTraining: false)
        }
    }

    @Test func activations() {
        var r = Inputs(seed: 6)
        let shape = [2, 3, 4]
        checkGradients("relu", inputs: [r.awayFromZero(shape)]) { $0[0].relu() }
        checkGradients("leakyRelu 0.2", inputs: [r.awayFromZero(shape)]) { $0[0].leakyRelu(slope: 0.2) }
        checkGradients("leakyRelu 0.01", inputs: [r.awayFromZero(shape)]) { $0[0].leakyRelu(slope: 0.01) }
        checkGradients("tanh", inputs: [r.normal(shape)]) { $0[0].tanh() }
        checkGradients("sigmoid", inputs: [r.normal(shape, std: 2)]) { $0[0].sigmoid() }
        checkGradients("elu", inputs: [r.awayFromZero(shape)]) { $0[0].elu() }
        checkGradients("elu alpha -1.7288", inputs: [r.awayFromZero(shape)]) { $0[0].elu(alpha: -1.72879524581) }
        checkGradients("gelu", inputs: [r.normal(shape, std: 1.5)]) { $0[0].gelu() }
        checkGradients("logSoftmax", inputs: [r.normal([3, 5], std: 2)]) { $0[0].logSoftmax() }
        checkGradients("logSoftmax rank 3", inputs: [r.normal([2, 2, 4])]) { $0[0].logSoftmax() }
        let mask = Tensor(shape: shape, scalars: (0..<24).map { _ in r.rng.nextUniformFloat() < 0.7 ? 1 : 0 })
        checkGradients("dropout(keepMask:)", inputs: [r.normal(shape)]) { $0[0].dropout(probability: 0.3, keepMask: mask) }
    }

    @Test func pooling() {
        var r = Inputs(seed: 7)
        checkGradients("spatialMax", inputs: [r.distinct([2, 3, 3, 4])]) { $0[0].spatialMax() }
        checkGradients("maxPooled2x2", inputs: [r.distinct([2, 2, 4, 6])]) { $0[0].maxPooled2x2() }
        checkGradients("maxPooled2x2 odd", inputs: [r.distinct([1, 2, 5, 3])]) { $0[0].maxPooled2x2() }
    }

    @Test func reductions() {
        var r = Inputs(seed: 8)
        let shape = [2, 3, 4]
        checkGradients("sum", inputs: [r.normal(shape)]) { $0[0].sum() }
        checkGradients("mean", inputs: [r.normal(shape)]) { $0[0].mean() }
        for (axes, keep) in [([1], false), ([0, 2], true), ([-1], false), ([0, 1, 2], false), ([2], true)] {
            checkGradients("sum \(axes) keep \(keep)", inputs: [r.normal(shape)]) {
                $0[0].sum(alongAxes: axes, keepingDimensions: keep)
            }
            checkGradients("mean \(axes) keep \(keep)", inputs: [r.normal(shape)]) {
                $0[0].mean(alongAxes: axes, keepingDimensions: keep)
            }
        }
    }

    @Test func shapeOperations() {
        var r = Inputs(seed: 9)
        checkGradients("reshaped", inputs: [r.normal([2, 3, 4])]) { $0[0].reshaped(to: [4, -1]) }
        checkGradients("reshaped then tanh", inputs: [r.normal([2, 6])]) { $0[0].reshaped(to: [3, 2, 2]).tanh() }
        checkGradients("flattened", inputs: [r.normal([2, 2, 3])]) { $0[0].flattened() }
        checkGradients("concatenate axis 1", inputs: [r.normal([2, 1, 3]), r.normal([2, 3, 3]), r.normal([2, 2, 3])]) {
            Tensor.concatenate($0, alongAxis: 1)
        }
        checkGradients("concatenate axis 0", inputs: [r.normal([1, 4]), r.normal([2, 4])]) { Tensor.concatenate($0, alongAxis: 0) }
        checkGradients("concatenate last axis", inputs: [r.normal([2, 2]), r.normal([2, 3])]) { Tensor.concatenate($0, alongAxis: 1) }
        checkGradients("concatenate, one constant", inputs: [r.normal([2, 2, 2, 2]), r.normal([2, 1, 2, 2])], differentiate: [1]) {
            Tensor.concatenate($0, alongAxis: 1)
        }
    }

    @Test func losses() {
        var r = Inputs(seed: 10)
        let shape = [2, 3, 4]
        let t = r.normal(shape)
        checkGradients("mse", inputs: [r.normal(shape)]) { $0[0].mseLoss(target: t) }
        checkGradients("mse constant", inputs: [r.normal(shape)]) { $0[0].mseLoss(target: 1) }
        let l1Input = t + r.awayFromZero(shape)
        checkGradients("l1", inputs: [l1Input]) { $0[0].l1Loss(target: t) }
        let labels = r.uniform(shape, 0, 1)
        // −log x has a large third derivative near 0.05: a smaller step keeps the O(h²) error down.
        checkGradients("bce", inputs: [r.uniform(shape, 0.05, 0.95)], step: 2e-3) { $0[0].bceLoss(target: labels) }
        checkGradients("bce constant", inputs: [r.uniform(shape, 0.05, 0.95)], step: 2e-3) { $0[0].bceLoss(target: 0.9) }
        checkGradients("bceWithLogits", inputs: [r.normal(shape, std: 3)]) { $0[0].bceWithLogitsLoss(target: labels) }
        // Huber (δ = 1): |x − t| in [0, 0.8] or [1.2, 2.5], away from the switch at δ.
        let d = (0..<24).map { i -> Float in
            let u = r.rng.nextUniformFloat()
            let magnitude = i % 2 == 0 ? 0.8 * u : 1.2 + 1.3 * u
            return r.rng.nextUniformFloat() < 0.5 ? -magnitude : magnitude
        }
        let huberInput = t + Tensor(shape: shape, scalars: d)
        checkGradients("huber", inputs: [huberInput]) { $0[0].huberLoss(target: t, delta: 1) }
    }

    /// The checker itself must catch a wrong backward: tanh whose rule passes the gradient
    /// through unchanged (derivative 1 instead of 1 − y²). The problems are returned, not
    /// recorded, so a passing run prints nothing that looks like a failed check.
    @Test func checkerDetectsAWrongGradient() {
        var r = Inputs(seed: 12)
        let x = r.normal([2, 3], std: 1.5)
        let wrong = gradientProblems("identity rule", inputs: [x]) { $0[0].tanh(gradientRule: { g, _ in g }) }
        #expect(wrong.count == 1 && wrong[0].hasPrefix("identity rule: input 0 [2, 3]"), "\(wrong)")
        #expect(gradientProblems("tanh", inputs: [x]) { $0[0].tanh() }.isEmpty)
        let detached = gradientProblems("detached", inputs: [x]) { _ in Tensor(shape: [1], scalars: [1]) }
        #expect(detached == ["detached: output has no gradient history"])
    }

    /// A small chain mixing several ops: checks that gradients compose through the graph,
    /// including a tensor that reaches the loss along two paths.
    @Test func composedGraph() {
        var r = Inputs(seed: 11)
        checkGradients(
            "conv → instanceNorm → tanh → skip", inputs: [r.normal([1, 2, 5, 5]), r.normal([2, 2, 3, 3], std: 0.4), r.normal([2])]
        ) { t in
            let y = t[0].padded(by: 1, mode: .reflect).conv2d(weight: t[1], bias: t[2]).instanceNormalized().tanh()
            return (y + t[0]).mean(alongAxes: [2, 3]) * t[2]
        }
    }
}
