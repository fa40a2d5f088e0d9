import CyclexEngine
import CyclexInference
import Foundation

/// A recipe whose training step is guided by explanations, and that can show what its
/// explanation machinery sees on the fixed probe images (`samples/explain/*.png`, drawn by
/// `cyclex report`).
public protocol ProbeExplaining {
    /// Rows of image names (one row per probe for each pattern) and the images they name, all
    /// `[N, 3, H, W]` in [−1, 1] so they tile into one sheet.
    func probeExplanations(probesA: Tensor, probesB: Tensor) -> (rows: [[String]], images: [String: Tensor])
}

extension XAICycleGANModel: ProbeExplaining {
    /// The probes run through the same machinery as a training step, without changing any weight,
    /// optimiser, pool or random stream: the fixed inference mask M (not a fresh draw, so the
    /// sheets of different steps compare), pass 1's augmented mask M' = M + λ·saliency, the
    /// generators' outputs under M', and the explanation maps of the current discriminators on
    /// them. Per direction (A→B uses domain B's discriminators):
    ///
    /// - `saliency_D_B`: the signed saliency of D_B's most confident patch w.r.t. the translation;
    /// - `E_B`: the λ-weighted explanation map that rewrites G_AB's gradient, on the same colour
    ///   scale as the saliency (so a small λ shows as a faint map);
    /// - `M_A_aug`: M' − 1, the noise plus the λ-weighted mask-discriminator saliency.
    ///
    /// Signed maps are summed over colour channels and drawn red (positive) / blue (negative) on
    /// white, scaled by the largest magnitude of the direction's saliency (or mask deviation).
    public func probeExplanations(probesA: Tensor, probesB: Tensor) -> (rows: [[String]], images: [String: Tensor]) {
        let maskA = generators.inferenceMask(like: probesA), maskB = generators.inferenceMask(like: probesB)
        precondition(probesA.shape.dropFirst() == probesB.shape.dropFirst(), "probe batches of both domains share C, H, W")
        var scratch = StepReport()
        let (maskAugA, maskAugB) = augmentedMasks(realA: probesA, realB: probesB, maskA: maskA, maskB: maskB, into: &scratch,
                                                    averaging: { $0 })
        let (fakeB, fakeA) = withoutGradient { (generatorAB(probesA, mask: maskAugA), generatorBA(probesB, mask: maskAugB)) }
        let judged = JudgedFakes(self, fakeB: fakeB, fakeA: fakeA, maskAugA: maskAugA, maskAugB: maskAugB)
        let maps = explainCurrentDiscriminators(realA: probesA, realB: probesB, judged: judged,
                                                maskAugA: maskAugA, maskAugB: maskAugB, into: &scratch,
                                                averaging: { $0 }).maps
        var images: [String: Tensor] = ["real_A": Self.rgb(probesA), "fake_B": Self.rgb(fakeB),
                                        "real_B": Self.rgb(probesB), "fake_A": Self.rgb(fakeA)]
        for (domain, source, map, maskAug) in [("B", "A", maps.forAB, maskAugA), ("A", "B", maps.forBA, maskAugB)] {
            let saliency = Self.channelSum(scratch.tensors["saliency_D_\(domain)"]!)
            let scale = Self.largestMagnitude(saliency)
            let (height, width) = (probesA.shape[2], probesA.shape[3])
            images["saliency_D_\(domain)"] = Self.diverging(saliency, height: height, width: width, scale: scale)
            images["E_\(domain)"] = Self.diverging(Self.channelSum(map), height: height, width: width, scale: scale)
            let deviation = Self.channelSum(withoutGradient { maskAug - 1 })
            images["M_\(source)_aug"] = Self.diverging(deviation, height: height, width: width, scale: Self.largestMagnitude(deviation))
        }
        return ([["real_A", "fake_B", "saliency_D_B", "E_B", "M_A_aug"], ["real_B", "fake_A", "saliency_D_A", "E_A", "M_B_aug"]],
                images)
    }

    /// One-channel images repeated to three (the maps are RGB); others unchanged.
    static func rgb(_ t: Tensor) -> Tensor {
        guard t.shape[1] == 1 else { return t }
        return withoutGradient { Tensor.concatenate([t, t, t], alongAxis: 1) }
    }

    /// [N, C, H, W] → [N, H·W] sums over channels (row-major per image).
    static func channelSum(_ t: Tensor) -> [[Float]] {
        let (n, c, plane) = (t.shape[0], t.shape[1], t.shape[2] * t.shape[3])
        let p = t.pointer
        return (0..<n).map { b in
            (0..<plane).map { i in (0..<c).reduce(Float(0)) { $0 + p[(b * c + $1) * plane + i] } }
        }
    }

    static func largestMagnitude(_ planes: [[Float]]) -> Float {
        max(planes.flatMap { $0 }.map { abs($0) }.filter(\.isFinite).max() ?? 0, 1e-12)
    }

    /// Signed values / `scale`, clamped to [−1, 1], as RGB in [−1, 1]: white at 0, red for
    /// positive, blue for negative: [N, 3, height, width].
    static func diverging(_ planes: [[Float]], height: Int, width: Int, scale: Float) -> Tensor {
        let n = planes.count, plane = height * width
        var out = [Float](repeating: 1, count: n * 3 * plane)
        for b in 0..<n {
            for i in 0..<plane {
                let v = max(-1, min(1, planes[b][i] / scale))
                let (r, g, bl) = (1 - max(0, -v), 1 - abs(v), 1 - max(0, v))
                out[(b * 3 + 0) * plane + i] = r * 2 - 1
                out[(b * 3 + 1) * plane + i] = g * 2 - 1
                out[(b * 3 + 2) * plane + i] = bl * 2 - 1
            }
        }
        return Tensor(shape: [n, 3, height, width], scalars: out)
    }
}
