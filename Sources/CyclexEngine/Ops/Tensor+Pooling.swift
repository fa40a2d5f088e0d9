/// Max pooling. On ties the first maximum in row-major order wins and takes the whole
/// gradient, as in PyTorch.
extension Tensor {
    /// Max over each [H, W] plane of [B, C, H, W] → [B, C, 1, 1] (adaptive max pool to 1×1):
    /// the xAI-CycleGAN explanation head, max over the PatchGAN map.
    public func spatialMax() -> Tensor {
        precondition(rank == 4, "spatialMax needs [B, C, H, W], got \(shape)")
        let indices = spatialArgmax()
        let planes = shape[0] * shape[1], n = shape[2] * shape[3]
        let out = Tensor(uninitializedShape: [shape[0], shape[1], 1, 1])
        for p in 0..<planes { out.pointer[p] = pointer[p * n + indices[p]] }
        let inputShape = shape
        return Tensor.record(out, name: "spatialMax", inputs: [self]) { g, _ in
            let gx = Tensor(zeros: inputShape)
            for p in 0..<planes { gx.pointer[p * n + indices[p]] = g.pointer[p] }
            return [gx]
        }
    }

    /// Flat index h·W + w of the first maximum of each [H, W] plane, in (b, c) order.
    public func spatialArgmax() -> [Int] {
        let planes = shape[0] * shape[1], n = shape[2] * shape[3]
        return (0..<planes).map { p in
            let x = pointer + p * n
            var best = 0
            for i in 1..<max(n, 1) where x[i] > x[best] { best = i }
            return best
        }
    }

    /// 2×2 max pooling with stride 2 (odd trailing rows/columns dropped), [B, C, H, W] →
    /// [B, C, H/2, W/2].
    public func maxPooled2x2() -> Tensor {
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let (oh, ow) = (h / 2, w / 2)
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        var argmax = [Int](repeating: 0, count: planes * oh * ow)
        for p in 0..<planes {
            let x = pointer + p * h * w
            for i in 0..<oh {
                for j in 0..<ow {
                    var best = (2 * i) * w + 2 * j
                    for (di, dj) in [(0, 1), (1, 0), (1, 1)] {
                        let idx = (2 * i + di) * w + 2 * j + dj
                        if x[idx] > x[best] { best = idx }
                    }
                    let o = (p * oh + i) * ow + j
                    argmax[o] = best
                    out.pointer[o] = x[best]
                }
            }
        }
        let inputShape = shape
        return Tensor.record(out, name: "maxPool2x2", inputs: [self]) { g, _ in
            let gx = Tensor(zeros: inputShape)
            for p in 0..<planes {
                for o in 0..<(oh * ow) { gx.pointer[p * h * w + argmax[p * oh * ow + o]] += g.pointer[p * oh * ow + o] }
            }
            return [gx]
        }
    }
}
