import CyclexEngine
import Foundation

/// The explanation machinery of xAI-CycleGAN: patch saliency (docs/explanations.md#patch-saliency),
/// λ (docs/explanations.md#lambda-adaptive-coefficient) and the map E (docs/explanations.md#explanation-map).
public enum Explanation {
    /// Signed saliency of a PatchGAN's highest patch score, per sample:
    /// S(y) = ∂ max_{i,j} D(y)[b, 0, i, j] / ∂y, all channels, unnormalised.
    ///
    /// A side computation: D runs on a detached copy and only the input gradient is computed
    /// (no parameter gradient is produced or touched). Returns the map [B, C, H, W] and the
    /// patch maps and arg-max indices for diagnostics.
    public static func patchSaliency(
        of discriminator: PatchDiscriminator, at images: Tensor
    ) -> (saliency: Tensor, patchMap: Tensor, argmax: [Int]) {
        let batch = images.shape[0], per = images.count / batch
        let imageShape = [1] + images.shape.dropFirst()
        let saliency = Tensor(uninitializedShape: images.shape)
        var maps: [Tensor] = []
        var argmax: [Int] = []
        for b in 0..<batch {
            let x = Tensor(uninitializedShape: imageShape, requiresGradient: true)
            x.pointer.update(from: images.pointer + b * per, count: per)
            let (score, map) = withGradient { () -> (Tensor, Tensor) in
                let map = discriminator(x)
                return (map.spatialMax(), map)
            }
            let g = Tensor.gradients(of: score, withRespectTo: [x])[0]
            (saliency.pointer + b * per).update(from: g.pointer, count: per)
            maps.append(map.detached())
            argmax.append(map.spatialArgmax()[0])
        }
        let patchMap = batch == 1 ? maps[0] : withoutGradient { Tensor.concatenate(maps, alongAxis: 0) }
        return (saliency, patchMap, argmax)
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
    /// `init(uninitializedShape:)` that also sets `requiresGradient`.
    convenience init(uninitializedShape shape: [Int], requiresGradient: Bool) {
        self.init(uninitializedShape: shape)
        self.requiresGradient = requiresGradient
    }
}
