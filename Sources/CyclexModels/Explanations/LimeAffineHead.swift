import CyclexEngine
import Foundation

/// LIME through a discriminator whose first stage is affine (docs/explanations.md#lime): the
/// perturbed images are never built, only their first pre-activations.
extension LimeExplainer {
    /// A discriminator split at its first affine stage: pre-activations W·x + b ([h, D] weight,
    /// x flattened), then `rest` from pre-activations [n, h] to n probabilities (evaluation mode).
    public struct AffineHead {
        public let weight: Tensor
        public let bias: Tensor
        public let rest: (Tensor) -> Tensor
        public init(weight: Tensor, bias: Tensor, rest: @escaping (Tensor) -> Tensor) {
            self.weight = weight; self.bias = bias; self.rest = rest
        }
    }

    /// The same attributions as `attributions(of:at:explain:using:)` (the same perturbations from
    /// the same stream) for a discriminator whose first stage is affine, `head`. A perturbed image
    /// is x + Σⱼ (1 − zⱼ)·δⱼ, δⱼ the change that fills patch j with its mean, so its first
    /// pre-activations are W·x + b + Σⱼ (1 − zⱼ)·(W·δⱼ). For R explained images, all as products:
    /// - W·x + b for all R images: one [R, D]·[D, h] product;
    /// - the patch shifts W·δⱼ: δⱼ touches only patch j's pixels, so with W's columns regrouped by
    ///   patch (`patchOrderedColumns`) patch j's shifts of all R images are one [R, nⱼ]·[nⱼ, h]
    ///   product (nⱼ = its pixels × channels): R·D·h multiply-adds in all, not R·P·D·h;
    /// - the samples: [S, P]·[P, h] per image, added onto W·x + b in place;
    /// - `head.rest` on all R·S rows at once.
    public func attributions(of head: AffineHead, at images: Tensor, explain: [Bool]? = nil,
                             using generator: inout RandomGenerator) -> Tensor {
        precondition(images.rank == 4, "LIME takes [B, C, H, W], got \(images.shape)")
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let per = c * h * w, width = head.weight.shape[0]
        precondition(head.weight.shape == [width, per] && head.bias.count == width, "head \(head.weight.shape) for images \(images.shape)")
        let rows = (0..<b).filter { explain?[$0] ?? true }
        let out = Tensor(zeros: images.shape)
        guard !rows.isEmpty else { return out }
        let (map, patches) = patchMap(height: h, width: w)
        let order = patchOrder(map: map, patches: patches, channels: c, plane: h * w)

        // The explained images [R, D], their fills, the keep-flags (drawn in row order, as the
        // per-image path draws them) and the pixel changes δ in patch order [R, D].
        let x = Tensor(uninitializedShape: [rows.count, per])
        let delta = Tensor(uninitializedShape: [rows.count, per])
        var flags: [Bool] = []
        flags.reserveCapacity(rows.count * samples * patches)
        for (r, i) in rows.enumerated() {
            let image = UnsafeBufferPointer(start: images.pointer + i * per, count: per)
            (x.pointer + r * per).update(from: image.baseAddress!, count: per)
            let fill = patchMeans(Array(image), channels: c, height: h, width: w)
            flags += perturbations(patches: patches, using: &generator)
            let d = delta.pointer + r * per
            for (t, e) in order.elements.enumerated() {
                d[t] = fill[map[e % (h * w)] * c + e / (h * w)] - image[e]
            }
        }

        let pre = Tensor(uninitializedShape: [rows.count * samples, width])
        withoutGradient {
            // W·x + b, one row per image.
            let base = Tensor(uninitializedShape: [rows.count, width])
            for r in 0..<rows.count { (base.pointer + r * width).update(from: head.bias.pointer, count: width) }
            BLAS.sgemm(transposeB: true, m: rows.count, n: width, k: per, a: x.pointer, lda: per,
                       b: head.weight.pointer, ldb: per, beta: 1, c: base.pointer, ldc: width)
            // shift [R, P, h]: row (r, j) = W·δⱼ of image r.
            let columns = patchOrderedColumns(head.weight, order: order.elements)
            let shift = Tensor(uninitializedShape: [rows.count, patches, width])
            for j in 0..<patches {
                let (start, count) = (order.starts[j], order.starts[j + 1] - order.starts[j])
                BLAS.sgemm(m: rows.count, n: width, k: count, a: delta.pointer + start, lda: per,
                           b: columns.pointer + start * width, ldb: width, c: shift.pointer + j * width,
                           ldc: patches * width)
            }
            // Sample s of image r: W·x + b + Σⱼ (1 − zⱼ)·shiftⱼ.
            let off = Tensor(uninitializedShape: [samples, patches])
            for r in 0..<rows.count {
                let target = pre.pointer + r * samples * width
                for s in 0..<samples { (target + s * width).update(from: base.pointer + r * width, count: width) }
                for e in 0..<(samples * patches) { off.pointer[e] = flags[r * samples * patches + e] ? 0 : 1 }
                BLAS.sgemm(m: samples, n: width, k: patches, a: off.pointer, lda: patches,
                           b: shift.pointer + r * patches * width, ldb: width, beta: 1, c: target, ldc: width)
            }
        }
        let probabilities = withoutGradient { head.rest(pre) }
        precondition(probabilities.count == rows.count * samples, "the head gave \(probabilities.shape) for \(rows.count * samples) samples")
        let all = probabilities.scalars
        for (r, i) in rows.enumerated() {
            let z = flags[(r * samples * patches)..<((r + 1) * samples * patches)]
            let coefficients = fit(z, patches: patches, probabilities: all[(r * samples)..<((r + 1) * samples)])
            for ch in 0..<c {
                for p in 0..<(h * w) { out.pointer[i * per + ch * h * w + p] = Float(coefficients[map[p]]) }
            }
        }
        return out
    }

    /// The flattened element indices (channel-major, as in [C, H, W]) grouped by patch: patch j's
    /// elements are `elements[starts[j]..<starts[j + 1]]`.
    func patchOrder(map: [Int], patches: Int, channels c: Int, plane: Int) -> (elements: [Int], starts: [Int]) {
        var counts = [Int](repeating: 0, count: patches + 1)
        for p in 0..<plane { counts[map[p] + 1] += c }
        for j in 0..<patches { counts[j + 1] += counts[j] }
        var next = counts, elements = [Int](repeating: 0, count: plane * c)
        for ch in 0..<c {
            for p in 0..<plane {
                elements[next[map[p]]] = ch * plane + p
                next[map[p]] += 1
            }
        }
        return (elements, counts)
    }

    /// W's columns as rows [D, h], in the order `order` (row t = column order[t] of W [h, D]);
    /// transposed in 32 × 32 tiles so that reads and writes both stay in cache.
    func patchOrderedColumns(_ weight: Tensor, order: [Int]) -> Tensor {
        let (width, per) = (weight.shape[0], weight.shape[1])
        let out = Tensor(uninitializedShape: [per, width])
        let tile = 32
        order.withUnsafeBufferPointer { order in
            for u0 in stride(from: 0, to: width, by: tile) {
                let u1 = min(u0 + tile, width)
                for t0 in stride(from: 0, to: per, by: tile) {
                    for t in t0..<min(t0 + tile, per) {
                        let column = weight.pointer + order[t], row = out.pointer + t * width
                        for u in u0..<u1 { row[u] = column[u * per] }
                    }
                }
            }
        }
        return out
    }
}
