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
/// [in, out]·[out, B·K] product per layer (pairs as columns: Wᵀ·M, which OpenBLAS runs slightly
/// faster than M·W here), in float32 or, as an option, bfloat16 (`ExplanationPrecision`).
extension GANExplanations {
    /// Mean attributions [B, ...] and the per-pair ones [B, K, ...] (row i·K + k pairs input i
    /// with baseline k).
    public static func deepLiftShap(
        of discriminator: DenseDiscriminator, inputs: Tensor, baselines: Tensor, precision: ExplanationPrecision = .f32
    ) -> (attributions: Tensor, perBaseline: Tensor) {
        let all = [Int](0..<inputs.shape[0])
        let m = denseMultipliers(discriminator.stages, inputs: inputs, rows: all, baselines: baselines, precision: precision)
        let (k, d) = (baselines.shape[0], inputs.count / inputs.shape[0])
        let pairs = all.count * k
        let perPair = Tensor(uninitializedShape: [inputs.shape[0], k] + inputs.shape.dropFirst())
        for i in all {
            for j in 0..<k {
                let (x, b, out) = (inputs.pointer + i * d, baselines.pointer + j * d, perPair.pointer + (i * k + j) * d)
                for e in 0..<d { out[e] = (x[e] - b[e]) * m.pointer[e * pairs + i * k + j] }
            }
        }
        return (meanOverBaselines(inputs: inputs, rows: all, baselines: baselines, multipliers: m), perPair)
    }

    /// The mean attributions only, of the rows marked in `explain` (all when nil); the other rows
    /// are 0 (xAI-GAN uses only the rejected fakes' rows).
    public static func deepLiftShapMean(
        of discriminator: DenseDiscriminator, inputs: Tensor, baselines: Tensor, explain: [Bool]? = nil,
        precision: ExplanationPrecision = .f32
    ) -> Tensor {
        let rows = (0..<inputs.shape[0]).filter { explain?[$0] ?? true }
        guard !rows.isEmpty else { return Tensor(zeros: inputs.shape) }
        let m = denseMultipliers(discriminator.stages, inputs: inputs, rows: rows, baselines: baselines, precision: precision)
        return meanOverBaselines(inputs: inputs, rows: rows, baselines: baselines, multipliers: m)
    }

    /// (1/K) Σ_k (xᵢ − b_k) ⊙ m(xᵢ, b_k) for the listed rows; `multipliers` [D, R·K] holds pair
    /// (r, k) of the r-th listed row in column r·K + k.
    static func meanOverBaselines(inputs: Tensor, rows: [Int], baselines: Tensor, multipliers m: Tensor) -> Tensor {
        let (k, d) = (baselines.shape[0], inputs.count / inputs.shape[0])
        let pairs = rows.count * k
        let mean = Tensor(zeros: inputs.shape)
        let scale = 1 / Float(k)
        let transposedBaselines = Tensor(uninitializedShape: [d, k])  // [D, K]: element e of every baseline together
        for j in 0..<k { for e in 0..<d { transposedBaselines.pointer[e * k + j] = baselines.pointer[j * d + e] } }
        for e in 0..<d {
            let b = transposedBaselines.pointer + e * k
            for (r, i) in rows.enumerated() {
                let x = inputs.pointer[i * d + e], mult = m.pointer + e * pairs + r * k
                var sum: Float = 0
                for j in 0..<k { sum += (x - b[j]) * mult[j] * scale }
                mean.pointer[i * d + e] = sum
            }
        }
        return mean
    }

    /// The input multipliers m(xᵢ, b_k) [D, R·K] of the listed input rows against every baseline
    /// (D the flattened input size; pair (r, k) in column r·K + k).
    static func denseMultipliers(_ layers: [Linear], inputs: Tensor, rows: [Int], baselines: Tensor,
                                 precision: ExplanationPrecision = .f32) -> Tensor {
        withoutGradient {
            let d = inputs.count / inputs.shape[0], k = baselines.shape[0]
            let x = Tensor(uninitializedShape: [rows.count, d])
            for (r, i) in rows.enumerated() { (x.pointer + r * d).update(from: inputs.pointer + i * d, count: d) }
            let forwardX = rescaleForward(layers, x), forwardB = rescaleForward(layers, baselines.reshaped(to: [k, d]))
            let pairs = rows.count * k
            var m = Tensor(repeating: 1, shape: [1, pairs])  // [units, pairs]: the output's multiplier
            for l in stride(from: layers.count - 1, through: 0, by: -1) {
                let isLast = l == layers.count - 1
                let width = forwardX[l].pre.shape[1]
                // m ⊙ slope, in place (m is not used again), unit by unit with the K baselines' values
                // of that unit side by side.
                let (ab, fb) = (transposed(forwardB[l].pre), transposed(forwardB[l].post))
                let (ax, fx) = (forwardX[l].pre.pointer, forwardX[l].post.pointer)
                for u in 0..<width {
                    let (abu, fbu) = (ab.pointer + u * k, fb.pointer + u * k)
                    for r in 0..<rows.count {
                        let (a, f) = (ax[r * width + u], fx[r * width + u])
                        let derivative: Float = isLast ? f * (1 - f) : (a > 0 ? 1 : 0.2)
                        let row = m.pointer + u * pairs + r * k
                        for j in 0..<k {
                            let delta = a - abu[j]
                            row[j] *= Swift.abs(delta) < 1e-10 ? derivative : (f - fbu[j]) / delta
                        }
                    }
                }
                let next = Tensor(uninitializedShape: [layers[l].weight.shape[1], pairs])
                TransposedWeightProduct.multiply(weight: layers[l].weight, m.pointer, columns: pairs, into: next.pointer,
                                                 precision: precision)
                m = next
            }
            return m
        }
    }

    /// A [n, w] matrix as [w, n].
    static func transposed(_ a: Tensor) -> Tensor {
        let (n, w) = (a.shape[0], a.shape[1])
        let t = Tensor(uninitializedShape: [w, n])
        for i in 0..<n { for u in 0..<w { t.pointer[u * n + i] = a.pointer[i * w + u] } }
        return t
    }

    /// Pre- and post-activations of every layer (LeakyReLU(0.2) between, sigmoid at the end).
    static func rescaleForward(_ layers: [Linear], _ input: Tensor) -> [(pre: Tensor, post: Tensor)] {
        rescaleActivations(layers.map { layer in { layer($0) } }, input)
    }
}
