import CyclexEngine
import Foundation

/// Adam exactly as `torch.optim.Adam` (amsgrad off): L2 weight decay coupled into the gradient,
/// bias-corrected moments, ε added after the square root.
///
///     g ← ∇θ + wd·θ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
///     θ ← θ − lr · (m / (1 − β1ᵗ)) / (√v / √(1 − β2ᵗ) + ε)
///
/// Parameters without a gradient are skipped and keep their own step count, as in PyTorch.
public final class Adam {
    public let parameters: [Tensor]
    public var learningRate: Float
    /// The rate given at creation; learning-rate schedules scale it (`learningRate = base × factor`).
    public let baseLearningRate: Float
    /// β1, β2 as the double-precision numbers PyTorch receives: 1 − β is formed in double
    /// (in Float, 1 − Float(0.999) is 1.3e-5 relatively off and every v drifts by that much).
    public var beta1: Double, beta2: Double
    public var epsilon: Float, weightDecay: Float
    /// Per-parameter step counts t and moments (zeros until the first step).
    public private(set) var steps: [Int]
    public let firstMoments: [Tensor], secondMoments: [Tensor]

    public init(parameters: [Tensor], learningRate: Float, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        baseLearningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        steps = Array(repeating: 0, count: parameters.count)
        firstMoments = parameters.map { Tensor(zeros: $0.shape) }
        secondMoments = parameters.map { Tensor(zeros: $0.shape) }
    }

    /// One update of every parameter that has a gradient (transforms cached from the old weights
    /// are dropped: `WinogradWeightCache.weightsDidChange`).
    public func step() {
        for (i, p) in parameters.enumerated() {
            guard let grad = p.gradient else { continue }
            steps[i] += 1
            let t = Double(steps[i])
            let stepSize = Float(Double(learningRate) / (1 - pow(beta1, t)))
            let correction2 = Float((1 - pow(beta2, t)).squareRoot())
            let (b1, b2, eps, wd) = (Float(beta1), Float(beta2), epsilon, weightDecay)
            let (c1, c2) = (Float(1 - beta1), Float(1 - beta2))
            let theta = p.pointer, g = grad.pointer
            let m = firstMoments[i].pointer, v = secondMoments[i].pointer
            Parallel.forRanges(p.count, minimumChunk: 65_536) { range in
                Self.update(range, theta: theta, gradient: g, m: m, v: v,
                            Coefficients(b1: b1, b2: b2, c1: c1, c2: c2, weightDecay: wd, stepSize: stepSize,
                                         correction2: correction2, epsilon: eps))
            }
        }
        WinogradWeightCache.weightsDidChange()
    }

    /// The scalars of one parameter's update (shared by every element).
    struct Coefficients {
        var b1, b2, c1, c2, weightDecay, stepSize, correction2, epsilon: Float
    }

    /// The update of elements `range` of one parameter, 16 lanes at a time. Each lane does the
    /// scalar formula's operations in the same order (square root and division are correctly
    /// rounded in both forms, and nothing is fused), so the result is bit-identical to the
    /// element-by-element loop; the scalar loop would not vectorise, since the four pointers may
    /// alias as far as the compiler knows, and division and square root dominated it.
    static func update(_ range: Range<Int>, theta: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
                       m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, _ k: Coefficients) {
        typealias Lanes = SIMD16<Float>
        func load(_ p: UnsafePointer<Float>, _ j: Int) -> Lanes {
            UnsafeRawPointer(p + j).loadUnaligned(as: Lanes.self)
        }
        func store(_ x: Lanes, _ p: UnsafeMutablePointer<Float>, _ j: Int) {
            UnsafeMutableRawPointer(p + j).storeBytes(of: x, as: Lanes.self)
        }
        var j = range.lowerBound
        while j + Lanes.scalarCount <= range.upperBound {
            let t = load(theta, j)
            let gj = load(g, j) + k.weightDecay * t
            let mj = k.b1 * load(m, j) + k.c1 * gj
            let vj = k.b2 * load(v, j) + k.c2 * gj * gj
            store(mj, m, j)
            store(vj, v, j)
            store(t - k.stepSize * mj / (vj.squareRoot() / k.correction2 + k.epsilon), theta, j)
            j += Lanes.scalarCount
        }
        while j < range.upperBound {
            let gj = g[j] + k.weightDecay * theta[j]
            m[j] = k.b1 * m[j] + k.c1 * gj
            v[j] = k.b2 * v[j] + k.c2 * gj * gj
            theta[j] -= k.stepSize * m[j] / (v[j].squareRoot() / k.correction2 + k.epsilon)
            j += 1
        }
    }

    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// Restores step counts (moments are restored by writing into `firstMoments`/`secondMoments`).
    public func restoreSteps(_ values: [Int]) {
        precondition(values.count == steps.count, "optimizer state for \(values.count) parameters, have \(steps.count)")
        steps = values
    }
}

/// Plain SGD with optional momentum, as `torch.optim.SGD` (dampening 0, no Nesterov).
public final class SGD {
    public let parameters: [Tensor]
    public var learningRate: Float, momentum: Float, weightDecay: Float
    private var velocities: [Tensor?]

    public init(parameters: [Tensor], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
        velocities = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        for (i, p) in parameters.enumerated() {
            guard let grad = p.gradient else { continue }
            let theta = p.pointer, g = grad.pointer
            let (lr, wd, mu) = (learningRate, weightDecay, momentum)
            if mu == 0 {
                for j in 0..<p.count { theta[j] -= lr * (g[j] + wd * theta[j]) }
                continue
            }
            let isFirst = velocities[i] == nil
            let velocity = velocities[i] ?? Tensor(zeros: p.shape)
            velocities[i] = velocity
            let b = velocity.pointer
            for j in 0..<p.count {
                let d = g[j] + wd * theta[j]
                b[j] = isFirst ? d : mu * b[j] + d
                theta[j] -= lr * b[j]
            }
        }
        WinogradWeightCache.weightsDidChange()
    }
}

/// `torch.nn.utils.clip_grad_norm_`: scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)),
/// ‖g‖ the L2 norm over every parameter's gradient together. Returns (‖g‖, coefficient).
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> (totalNorm: Float, coefficient: Float) {
    var sumSquares: Double = 0
    for p in parameters { if let g = p.gradient { sumSquares += Kernels.dot(g.pointer, g.pointer, count: g.count) } }
    let total = Float(sumSquares.squareRoot())
    let coefficient = min(1, maxNorm / (total + 1e-6))
    if coefficient < 1 {
        for p in parameters {
            guard let g = p.gradient else { continue }
            let pg = g.pointer
            for j in 0..<g.count { pg[j] *= coefficient }
        }
    }
    return (total, coefficient)
}
