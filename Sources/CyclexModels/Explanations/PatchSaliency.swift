import CyclexEngine
import Foundation

/// The explanation machinery of xAI-CycleGAN: patch saliency (docs/explanations.md#patch-saliency),
/// λ (docs/explanations.md#lambda-adaptive-coefficient) and the map E (docs/explanations.md#explanation-map).
public enum Explanation {
    /// Signed saliency of a PatchGAN's highest patch score, per sample:
    /// S(y) = ∂ max_{i,j} D(y)[b, 0, i, j] / ∂y, all channels, unnormalised.
    ///
    /// A side computation: D runs on a detached copy and only the input gradient is computed
    /// (no parameter gradient is produced or touched). The whole batch goes through D at once:
    /// PatchGAN treats samples independently (instance norm), so the gradient of the sum of the
    /// samples' highest scores is each sample's saliency in its own slice. Returns the map
    /// [B, C, H, W] and the patch maps and arg-max indices for diagnostics.
    public static func patchSaliency(
        of discriminator: PatchDiscriminator, at images: Tensor
    ) -> (saliency: Tensor, patchMap: Tensor, argmax: [Int]) {
        let (input, map) = withGradient { () -> (Tensor, Tensor) in
            let x = Tensor.leafRequiringGradient(copying: images)
            return (x, discriminator(x))
        }
        return (patchSaliency(ofScores: map, withRespectTo: input), map.detached(), map.spatialArgmax())
    }

    /// The saliency of patch scores D(x) already computed, with graph, from `input` (itself a
    /// leaf or part of a larger graph): ∂ Σ_b max_{i,j} map[b, 0, i, j] / ∂input, [B, C, H, W].
    /// This shares D's forward pass with whatever else uses `map` (xAI-CycleGAN's adversarial
    /// loss and λ). Only D's input-gradient path is walked: no parameter gradient is formed, and
    /// nothing upstream of `input` is touched.
    public static func patchSaliency(ofScores map: Tensor, withRespectTo input: Tensor) -> Tensor {
        precondition(map.requiresGradient && input.requiresGradient,
                     "patch saliency needs scores recorded with graph from a gradient-carrying input")
        let best = withGradient { map.spatialMax() }
        return Tensor.gradients(of: best, withRespectTo: [input])[0]
    }

    /// The λ-adaptive coefficient λ(x) = (2·(0.5 − min(0.5, x)))^γ for x ≥ 0, 0 for x < 0:
    /// 1 when the discriminator's loss is 0 (it is confident), 0 once the loss reaches 0.5.
    public static func lambda(_ x: Float, gamma: Float = 0.5) -> Float {
        guard x >= 0 else { return 0 }
        let base = (0.5 - min(0.5, x)) / 0.5
        return Float(pow(Double(base), Double(gamma)))
    }

    /// One domain's explanation map E = ½[(1 − r)·λ·S + r·λm·Sm] from the saliency of its
    /// discriminator (S, weight λ) and of its mask discriminator (Sm, weight λm), r the mask
    /// discriminator's share (0.7). Shapes as the saliency maps ([B, C, H, W]).
    public static func xaiCycleGANMap(saliency s: Tensor, maskSaliency sm: Tensor, lambda l: Float, maskLambda lm: Float,
                                      maskShare r: Float) -> Tensor {
        withoutGradient { (s * ((1 - r) * l) + sm * (r * lm)) * 0.5 }
    }
}

extension Tensor {
    /// A new leaf with `source`'s shape and a copy of its values that requires a gradient (the
    /// detached input of a side computation).
    public static func leafRequiringGradient(copying source: Tensor) -> Tensor {
        let x = Tensor(uninitializedShape: source.shape)
        x.pointer.update(from: source.pointer, count: source.count)
        x.requiresGradient = true
        return x
    }
}
