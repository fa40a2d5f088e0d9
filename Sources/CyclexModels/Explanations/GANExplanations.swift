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
}
