import CyclexEngine
import CyclexNN
import Foundation

/// Explanation masks of the single GANs: xAI-GAN (docs/explanations.md#xai-gan-explanation-matrix)
/// and LogicGAN (docs/explanations.md#logicgan-mask).
/// All are side computations on detached copies: no parameter receives a gradient.
public enum GANExplanations {
    /// |∂D(xᵢ)/∂xᵢ| of a discriminator that outputs real-probabilities ([B, 1] or [B, 1, 1, 1]),
    /// one forward per sample (captum `Saliency`, abs = true). One sample at a time matters for
    /// BatchNorm in training mode, which then normalises with that sample's own statistics.
    public static func probabilitySaliency(of discriminator: (Tensor) -> Tensor, at images: Tensor) -> Tensor {
        let batch = images.shape[0], per = images.count / batch
        let out = Tensor(uninitializedShape: images.shape)
        for i in 0..<batch {
            let x = Tensor(uninitializedShape: [1] + images.shape.dropFirst())
            x.pointer.update(from: images.pointer + i * per, count: per)
            x.requiresGradient = true
            let p = withGradient { discriminator(x).sum() }
            let g = Tensor.gradients(of: p, withRespectTo: [x])[0]
            for j in 0..<per { out.pointer[i * per + j] = Swift.abs(g.pointer[j]) }
        }
        return out
    }

    /// The xAI-GAN explanation matrix: rows the discriminator rejects (probability < 0.5) take
    /// their attribution, provided at least two rows are rejected; every other row is 1; then one
    /// global min-max over the whole batch, NaN (a constant batch) → 0. Returns M and the rejected
    /// rows (as the reference reports them, also when fewer than two leave nothing replaced).
    public static func xaiGANMatrix(probabilities p: [Float], attributions: Tensor) -> (mask: Tensor, rejected: [Bool]) {
        let batch = attributions.shape[0], per = attributions.count / batch
        precondition(p.count == batch, "\(p.count) probabilities for \(batch) rows")
        let rejected = p.map { $0 < 0.5 }
        let t = Tensor(repeating: 1, shape: attributions.shape)
        if rejected.filter({ $0 }).count > 1 {
            for i in 0..<batch where rejected[i] {
                (t.pointer + i * per).update(from: attributions.pointer + i * per, count: per)
            }
        }
        return (globalMinMax(t, absolute: false), rejected)
    }

    /// LogicGAN's mask: |attributions| scaled by one global min-max over the batch.
    public static func logicGANMask(attributions: Tensor) -> Tensor { globalMinMax(attributions, absolute: true) }

    /// Per layer, the rescale rule's slope of each unit's activation between input and baseline.
    static func secantSlopes(_ layers: [Linear], input: Tensor, baseline: Tensor) -> [Tensor] {
        var (hx, hb) = (input, baseline)
        var slopes: [Tensor] = []
        for (index, layer) in layers.enumerated() {
            let (ax, ab) = (layer(hx), layer(hb))
            let isLast = index == layers.count - 1
            let activate: (Float) -> Float
            if isLast { activate = unitSigmoid } else { activate = unitLeakyRelu }
            let (fx, fb) = (ax.scalars.map(activate), ab.scalars.map(activate))
            var slope = [Float](repeating: 0, count: ax.count)
            for i in 0..<ax.count {
                let delta = ax.pointer[i] - ab.pointer[i]
                if Swift.abs(delta) < 1e-10 {
                    slope[i] = isLast ? fx[i] * (1 - fx[i]) : (ax.pointer[i] > 0 ? 1 : 0.2)
                } else {
                    slope[i] = (fx[i] - fb[i]) / delta
                }
            }
            slopes.append(Tensor(shape: ax.shape, scalars: slope))
            hx = Tensor(shape: ax.shape, scalars: fx)
            hb = Tensor(shape: ab.shape, scalars: fb)
        }
        return slopes
    }

    static func unitSigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
    static func unitLeakyRelu(_ x: Float) -> Float { x > 0 ? x : 0.2 * x }

    /// (T − min T) / max(T − min T) over every element; NaN → 0.
    static func globalMinMax(_ t: Tensor, absolute: Bool) -> Tensor {
        let values = absolute ? t.scalars.map { Swift.abs($0) } : t.scalars
        let low = values.min() ?? 0
        let high = (values.max() ?? 0) - low
        return Tensor(shape: t.shape, scalars: values.map { v in
            let scaled = (v - low) / high
            return scaled.isNaN ? 0 : scaled
        })
    }

    /// DeepLiftShap (captum `DeepLiftShap`, target 0) of a dense discriminator with dropout off:
    /// for every input xᵢ and baseline b_k, DeepLIFT's rescale rule — multipliers flow back through
    /// each Linear with Wᵀ and through each LeakyReLU and the final sigmoid with the secant slope
    /// (f(a) − f(a′))/(a − a′) of the unit's pre-activations (f′(a) when |a − a′| < 1e-10) — and
    /// attribution (xᵢ − b_k)·multiplier; the result is the mean over baselines.
    /// Returns the mean [B, ...] and the per-pair attributions [B, K, ...].
    public static func deepLiftShap(
        of discriminator: DenseDiscriminator, inputs: Tensor, baselines: Tensor
    ) -> (attributions: Tensor, perBaseline: Tensor) {
        let (b, k) = (inputs.shape[0], baselines.shape[0])
        let d = inputs.count / b
        precondition(baselines.count / k == d, "baselines \(baselines.shape) do not match inputs \(inputs.shape)")
        // Row i·K + j pairs input i with baseline j.
        var xs = [Float](), bs = [Float]()
        let (px, pb) = (inputs.scalars, baselines.scalars)
        for i in 0..<b { for j in 0..<k { xs += px[(i * d)..<((i + 1) * d)]; bs += pb[(j * d)..<((j + 1) * d)] } }
        let rows = b * k
        let layers = discriminator.stages
        let slopes = withoutGradient {
            secantSlopes(layers, input: Tensor(shape: [rows, d], scalars: xs), baseline: Tensor(shape: [rows, d], scalars: bs))
        }
        // Multipliers from the single output back to the input.
        var m = Tensor(repeating: 1, shape: [rows, 1])
        withoutGradient {
            for (layer, slope) in zip(layers, slopes).reversed() {
                m = Tensor.matmul(m * slope, layer.weight)
            }
        }
        let perPair = Tensor(uninitializedShape: [b, k] + inputs.shape.dropFirst())
        for r in 0..<rows { for j in 0..<d { perPair.pointer[r * d + j] = (xs[r * d + j] - bs[r * d + j]) * m.pointer[r * d + j] } }
        let mean = Tensor(zeros: inputs.shape)
        for i in 0..<b {
            for j in 0..<k {
                for e in 0..<d { mean.pointer[i * d + e] += perPair.pointer[(i * k + j) * d + e] / Float(k) }
            }
        }
        return (mean, perPair)
    }
}
