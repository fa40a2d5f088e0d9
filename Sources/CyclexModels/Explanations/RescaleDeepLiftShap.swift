import CyclexEngine
import CyclexNN
import Foundation

/// DeepLiftShap (docs/explanations.md#deepshap) of any discriminator built as affine stages, each
/// followed by LeakyReLU(0.2) and the last by a sigmoid: the DCGAN discriminator in evaluation
/// mode (convolutions and BatchNorm on running statistics are affine), or the dense one.
///
/// The rescale rule's backward through an affine stage is its linear part transposed, and through
/// a nonlinearity a multiplication by the secant slope s = (f(a) − f(a′))/(a − a′). With the
/// slopes of a pair held constant, that backward is exactly the gradient of
///     L(h) = Σ s_L ⊙ A_L(… s₂ ⊙ A₂(s₁ ⊙ A₁(h)))
/// with respect to h (an affine map's gradient is its linear part, whatever h is), so the engine's
/// own autodiff computes the multipliers, batched over the K baselines of one input at a time.
/// It records a forward of K rows per input only to get that backward; the DCGAN explainer
/// (`deepLiftShap(of: DcganDiscriminator…)`, DcganDeepLiftShap.swift) runs the backward alone, and
/// its tests check it against this general form.
extension GANExplanations {
    /// One affine stage; the nonlinearity after it is LeakyReLU(0.2), or a sigmoid for the last.
    public typealias AffineStage = (Tensor) -> Tensor

    /// What every DeepSHAP path sets up first, for inputs [B, ...] and baselines [K, ...] of the
    /// same sample shape: the explained rows (all when `explain` is nil), zeroed outputs (mean
    /// [B, ...]; per pair [B, K, ...] when `keepPairs`) and the explained inputs gathered into one
    /// batch [rows, ...] (nil when no row is explained).
    static func deepShapSetUp(inputs: Tensor, baselines: Tensor, explain: [Bool]?, keepPairs: Bool)
        -> (rows: [Int], mean: Tensor, perPair: Tensor?, explained: Tensor?) {
        let (b, k) = (inputs.shape[0], baselines.shape[0])
        let d = inputs.count / b
        precondition(baselines.count / k == d, "baselines \(baselines.shape) do not match inputs \(inputs.shape)")
        let rows = (0..<b).filter { explain?[$0] ?? true }
        let mean = Tensor(zeros: inputs.shape)
        let perPair = keepPairs ? Tensor(zeros: [b, k] + inputs.shape.dropFirst()) : nil
        guard !rows.isEmpty else { return (rows, mean, perPair, nil) }
        let x = Tensor(uninitializedShape: [rows.count] + inputs.shape.dropFirst())
        for (r, i) in rows.enumerated() { (x.pointer + r * d).update(from: inputs.pointer + i * d, count: d) }
        return (rows, mean, perPair, x)
    }

    /// Mean attributions [B, ...] over the K baselines for the rows marked in `explain` (all when
    /// nil; the others are 0), and when `keepPairs` the per-pair ones [B, K, ...].
    public static func rescaleDeepLiftShap(
        stages: [AffineStage], inputs: Tensor, baselines: Tensor, explain: [Bool]? = nil, keepPairs: Bool = false
    ) -> (attributions: Tensor, perBaseline: Tensor?) {
        let (k, d) = (baselines.shape[0], inputs.count / inputs.shape[0])
        let setUp = deepShapSetUp(inputs: inputs, baselines: baselines, explain: explain, keepPairs: keepPairs)
        let (rows, mean, perPair) = (setUp.rows, setUp.mean, setUp.perPair)
        guard let x = setUp.explained else { return (mean, perPair) }
        let sampleShape = Array(inputs.shape.dropFirst())
        let (forwardX, forwardB) = withoutGradient { (activations(stages, x), activations(stages, baselines)) }

        for (r, i) in rows.enumerated() {
            // The slopes of input i against every baseline, [K, stage shape] per stage.
            let slopes = (0..<stages.count).map { l -> Tensor in
                let width = forwardX[l].pre.count / rows.count
                let s = Tensor(uninitializedShape: [k] + forwardX[l].pre.shape.dropFirst())
                for j in 0..<k {
                    secantSlopes(ax: forwardX[l].pre.pointer + r * width, fx: forwardX[l].post.pointer + r * width,
                                 ab: forwardB[l].pre.pointer + j * width, fb: forwardB[l].post.pointer + j * width,
                                 into: s.pointer + j * width, count: width, sigmoid: l == stages.count - 1)
                }
                return s
            }
            let h = Tensor(zeros: [k] + sampleShape, requiresGradient: true)
            let total = withGradient { () -> Tensor in
                var y = h
                for (stage, slope) in zip(stages, slopes) { y = stage(y) * slope }
                return y.sum()
            }
            let m = Tensor.gradients(of: total, withRespectTo: [h])[0]
            let xi = inputs.pointer + i * d, out = mean.pointer + i * d
            let scale = 1 / Float(k)
            for j in 0..<k {
                let (bj, mj) = (baselines.pointer + j * d, m.pointer + j * d)
                for e in 0..<d {
                    let a = (xi[e] - bj[e]) * mj[e]
                    out[e] += a * scale
                    if let perPair { perPair.pointer[(i * k + j) * d + e] = a }
                }
            }
        }
        return (mean, perPair)
    }

    /// Pre- and post-activations of every stage.
    static func activations(_ stages: [AffineStage], _ input: Tensor) -> [(pre: Tensor, post: Tensor)] {
        rescaleActivations(stages.map { stage in { stage($0) } }, input)
    }

    /// Pre- and post-activations of a chain of affine maps with LeakyReLU(0.2) between them and a sigmoid
    /// after the last: what both DeepSHAP explainers (dense and DCGAN) need to apply the rescale rule.
    static func rescaleActivations(_ maps: [(Tensor) -> Tensor], _ input: Tensor) -> [(pre: Tensor, post: Tensor)] {
        var h = input
        var result: [(pre: Tensor, post: Tensor)] = []
        for (index, map) in maps.enumerated() {
            let a = map(h)
            let f = Tensor(uninitializedShape: a.shape)
            if index == maps.count - 1 {
                for u in 0..<a.count { f.pointer[u] = unitSigmoid(a.pointer[u]) }
            } else {
                for u in 0..<a.count { f.pointer[u] = unitLeakyRelu(a.pointer[u]) }
            }
            result.append((a, f))
            h = f
        }
        return result
    }

    /// The rescale rule's slopes of `count` units: (f(a) − f(a′))/(a − a′), or the derivative at
    /// a when |a − a′| < 1e-10.
    static func secantSlopes(ax: UnsafePointer<Float>, fx: UnsafePointer<Float>, ab: UnsafePointer<Float>,
                             fb: UnsafePointer<Float>, into slope: UnsafeMutablePointer<Float>, count: Int, sigmoid: Bool) {
        for u in 0..<count {
            let delta = ax[u] - ab[u]
            if Swift.abs(delta) < 1e-10 {
                slope[u] = sigmoid ? fx[u] * (1 - fx[u]) : (ax[u] > 0 ? 1 : 0.2)
            } else {
                slope[u] = (fx[u] - fb[u]) / delta
            }
        }
    }
}

extension DcganDiscriminator {
    /// Conv; Conv → BN; Conv → BN; Conv: the affine stages between the nonlinearities.
    public var affineStages: [GANExplanations.AffineStage] {
        [{ [input] in input($0) }, { [hidden1, norms] in norms[0](hidden1($0)) },
         { [hidden2, norms] in norms[1](hidden2($0)) }, { [out] in out($0) }]
    }
}

extension DenseDiscriminator {
    /// The four Linear layers as affine stages (dropout is not part of the explained function).
    public var affineStages: [GANExplanations.AffineStage] {
        stages.map { layer in { x in layer(x.reshaped(to: [x.shape[0], -1])) } }
    }
}
