import CyclexEngine
import CyclexNN
import Foundation

/// DeepLiftShap of the dense discriminator (docs/explanations.md#deepshap), as captum's
/// `DeepLiftShap` with target 0 and dropout off: for every input xᵢ and baseline b_k, DeepLIFT's
/// rescale rule — multipliers flow back through each Linear with Wᵀ and through each LeakyReLU and
/// the final sigmoid with the secant slope (f(a) − f(a′))/(a − a′) of the unit's pre-activations
/// (f′(a) when |a − a′| < 1e-10) — and the attribution (xᵢ − b_k)·multiplier, averaged over k.
///
/// Cost: the pre-activations of a pair are those of its input and of its baseline, so the forward
/// runs B + K rows (not B·K); only the multipliers' backward needs all B·K pairs, one
/// [B·K, out]·[out, in] product per layer.
extension GANExplanations {
    /// Mean attributions [B, ...] and the per-pair ones [B, K, ...] (row i·K + k pairs input i
    /// with baseline k).
    public static func deepLiftShap(
        of discriminator: DenseDiscriminator, inputs: Tensor, baselines: Tensor
    ) -> (attributions: Tensor, perBaseline: Tensor) {
        let all = [Int](0..<inputs.shape[0])
        let m = denseMultipliers(discriminator.stages, inputs: inputs, rows: all, baselines: baselines)
        let (k, d) = (baselines.shape[0], inputs.count / inputs.shape[0])
        let perPair = Tensor(uninitializedShape: [inputs.shape[0], k] + inputs.shape.dropFirst())
        for i in all {
            for j in 0..<k {
                let (x, b, mult, out) = (inputs.pointer + i * d, baselines.pointer + j * d, m.pointer + (i * k + j) * d,
                                         perPair.pointer + (i * k + j) * d)
                for e in 0..<d { out[e] = (x[e] - b[e]) * mult[e] }
            }
        }
        return (meanOverBaselines(inputs: inputs, rows: all, baselines: baselines, multipliers: m), perPair)
    }

    /// The mean attributions only, of the rows marked in `explain` (all when nil); the other rows
    /// are 0 (xAI-GAN uses only the rejected fakes' rows).
    public static func deepLiftShapMean(
        of discriminator: DenseDiscriminator, inputs: Tensor, baselines: Tensor, explain: [Bool]? = nil
    ) -> Tensor {
        let rows = (0..<inputs.shape[0]).filter { explain?[$0] ?? true }
        guard !rows.isEmpty else { return Tensor(zeros: inputs.shape) }
        let m = denseMultipliers(discriminator.stages, inputs: inputs, rows: rows, baselines: baselines)
        return meanOverBaselines(inputs: inputs, rows: rows, baselines: baselines, multipliers: m)
    }

    /// (1/K) Σ_k (xᵢ − b_k) ⊙ m(xᵢ, b_k) for the listed rows; `multipliers` holds pair (r, k) of
    /// the r-th listed row at r·K + k.
    static func meanOverBaselines(inputs: Tensor, rows: [Int], baselines: Tensor, multipliers m: Tensor) -> Tensor {
        let (k, d) = (baselines.shape[0], inputs.count / inputs.shape[0])
        let mean = Tensor(zeros: inputs.shape)
        let scale = 1 / Float(k)
        for (r, i) in rows.enumerated() {
            let (x, out) = (inputs.pointer + i * d, mean.pointer + i * d)
            for j in 0..<k {
                let (b, mult) = (baselines.pointer + j * d, m.pointer + (r * k + j) * d)
                for e in 0..<d { out[e] += (x[e] - b[e]) * mult[e] * scale }
            }
        }
        return mean
    }

    /// The input multipliers m(xᵢ, b_k) [R·K, D] of the listed input rows against every baseline,
    /// D the flattened input size.
    static func denseMultipliers(_ layers: [Linear], inputs: Tensor, rows: [Int], baselines: Tensor) -> Tensor {
        withoutGradient {
            let d = inputs.count / inputs.shape[0], k = baselines.shape[0]
            let x = Tensor(uninitializedShape: [rows.count, d])
            for (r, i) in rows.enumerated() { (x.pointer + r * d).update(from: inputs.pointer + i * d, count: d) }
            let forwardX = rescaleForward(layers, x), forwardB = rescaleForward(layers, baselines.reshaped(to: [k, d]))
            let pairs = rows.count * k
            var m = Tensor(repeating: 1, shape: [pairs, 1])
            for l in stride(from: layers.count - 1, through: 0, by: -1) {
                let isLast = l == layers.count - 1
                let width = forwardX[l].pre.shape[1]
                let (ax, fx, ab, fb) = (forwardX[l].pre.pointer, forwardX[l].post.pointer,
                                        forwardB[l].pre.pointer, forwardB[l].post.pointer)
                let scaled = m  // m ⊙ slope, in place: m is not used again
                for r in 0..<rows.count {
                    for j in 0..<k {
                        let row = scaled.pointer + (r * k + j) * width
                        let (axr, fxr, abr, fbr) = (ax + r * width, fx + r * width, ab + j * width, fb + j * width)
                        for u in 0..<width {
                            let delta = axr[u] - abr[u]
                            let slope: Float
                            if Swift.abs(delta) < 1e-10 {
                                slope = isLast ? fxr[u] * (1 - fxr[u]) : (axr[u] > 0 ? 1 : 0.2)
                            } else {
                                slope = (fxr[u] - fbr[u]) / delta
                            }
                            row[u] *= slope
                        }
                    }
                }
                m = Tensor.matmul(scaled, layers[l].weight)
            }
            return m
        }
    }

    /// Pre- and post-activations of every layer (LeakyReLU(0.2) between, sigmoid at the end).
    static func rescaleForward(_ layers: [Linear], _ input: Tensor) -> [(pre: Tensor, post: Tensor)] {
        rescaleActivations(layers.map { layer in { layer($0) } }, input)
    }
}
