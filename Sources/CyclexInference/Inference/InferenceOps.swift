import CyclexEngine

/// The activation fused into `InferenceOps.instanceNormalize`.
public enum FusedActivation: Sendable {
    case none, relu
    /// Leaky ReLU with this negative slope.
    case leakyRelu(Float)
}

/// In-place passes of the inference-only forward (`InferenceGenerator`). Training's ops each
/// return a new tensor and keep what their backward needs; at inference a conv output is used
/// exactly once, so normalisation and activation overwrite it.
enum InferenceOps {
    /// Instance norm (no affine, biased variance, ε inside the square root, as PyTorch's
    /// `InstanceNorm2d`) followed by `activation`, overwriting each [b, c] plane of `t`
    /// ([B, C, H, W]). Mean and variance are accumulated in Double over SIMD float lanes, like
    /// the training op, so both paths agree to float rounding.
    static func instanceNormalize(_ t: Tensor, activation: FusedActivation, epsilon: Float = 1e-5) {
        precondition(t.rank == 4, "instanceNormalize needs [B, C, H, W], got \(t.shape)")
        let planes = t.shape[0] * t.shape[1], n = t.shape[2] * t.shape[3]
        let base = t.pointer
        let slope: Float
        switch activation {
        case .none: slope = 1
        case .relu: slope = 0
        case let .leakyRelu(s): slope = s
        }
        Parallel.forRanges(planes, minimumChunk: max(1, 8_192 / max(n, 1))) { range in
            for plane in range {
                let x = base + plane * n
                let mean = Kernels.sumDouble(x, count: n) / Double(n)
                let variance = centeredSquares(x, count: n, mean: Float(mean)) / Double(n)
                let r = Float(1 / (variance + Double(epsilon)).squareRoot())
                scaleShift(x, count: n, mean: Float(mean), scale: r, slope: slope)
            }
        }
    }

    /// Σ (x[i] − mean)² in eight-lane float accumulators, combined in Double.
    private static func centeredSquares(_ x: UnsafePointer<Float>, count: Int, mean: Float) -> Double {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean)
        let raw = UnsafeRawPointer(x)
        var i = 0
        while i + 16 <= count {
            let a = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m
            let b = raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self) - m
            acc0 = acc0.addingProduct(a, a)
            acc1 = acc1.addingProduct(b, b)
            i += 16
        }
        var total = Double((acc0 + acc1).sum())
        while i < count { let d = Double(x[i] - mean); total += d * d; i += 1 }
        return total
    }

    /// x[i] = f((x[i] − mean) · scale) with f(v) = v > 0 ? v : slope · v (slope 1: identity).
    private static func scaleShift(_ x: UnsafeMutablePointer<Float>, count: Int, mean: Float, scale: Float, slope: Float) {
        let m = SIMD16<Float>(repeating: mean), s = SIMD16<Float>(repeating: scale), k = SIMD16<Float>(repeating: slope)
        let raw = UnsafeMutableRawPointer(x)
        var i = 0
        while i + 16 <= count {
            let v = (raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - m) * s
            let y = slope == 1 ? v : slope == 0 ? v.replacing(with: 0, where: v .<= 0) : v.replacing(with: v * k, where: v .<= 0)
            raw.storeBytes(of: y, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            let v = (x[i] - mean) * scale
            x[i] = v > 0 || slope == 1 ? v : slope == 0 ? 0 : v * slope
            i += 1
        }
    }

    /// The xAI soft-mask encoder (docs/models.md#xai-cyclegan-generator) in one pass over the
    /// pixels instead of products, concatenations and two 1×1 convolutions:
    /// u = Wu·[x⊙m; m] + bu and c = Wc·[x⊙(1−m); 1−m] + bc, x and m [B, C, H, W], Wu and Wc
    /// [C, 2C, 1, 1]. The sums run in the same order as the convolutions' (input channel by
    /// input channel).
    static func maskFusion(
        _ x: Tensor, mask m: Tensor, weightU wu: Tensor, biasU bu: Tensor?, weightC wc: Tensor, biasC bc: Tensor?
    ) -> (u: Tensor, c: Tensor) {
        precondition(x.rank == 4 && x.shape == m.shape, "maskFusion: image \(x.shape), mask \(m.shape)")
        let (batch, channels, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        precondition(wu.shape == [channels, 2 * channels, 1, 1] && wc.shape == wu.shape,
                     "maskFusion: weights \(wu.shape), \(wc.shape) for \(channels) channels")
        let u = Tensor(uninitializedShape: x.shape), c = Tensor(uninitializedShape: x.shape)
        let (px, pm, pu, pc) = (x.pointer, m.pointer, u.pointer, c.pointer)
        let (wuP, wcP, buP, bcP) = (wu.pointer, wc.pointer, bu?.pointer, bc?.pointer)
        let chunks = (plane + 15) / 16
        for b in 0..<batch {
            let base = b * channels * plane
            Parallel.forRanges(chunks, minimumChunk: 1_024) { range in
                var xs = [SIMD16<Float>](repeating: .zero, count: channels), ms = xs
                for chunk in range {
                    let p0 = chunk * 16, n = min(16, plane - p0)
                    for i in 0..<channels {
                        let offset = base + i * plane + p0
                        if n == 16 {
                            xs[i] = UnsafeRawPointer(px + offset).loadUnaligned(as: SIMD16<Float>.self)
                            ms[i] = UnsafeRawPointer(pm + offset).loadUnaligned(as: SIMD16<Float>.self)
                        } else {
                            xs[i] = .zero
                            ms[i] = .zero
                            for l in 0..<n { xs[i][l] = px[offset + l]; ms[i][l] = pm[offset + l] }
                        }
                    }
                    for o in 0..<channels {
                        var su = SIMD16<Float>(repeating: buP?[o] ?? 0), sc = SIMD16<Float>(repeating: bcP?[o] ?? 0)
                        let (rowU, rowC) = (wuP + o * 2 * channels, wcP + o * 2 * channels)
                        for i in 0..<channels {
                            su = su.addingProduct(xs[i] * ms[i], SIMD16(repeating: rowU[i]))
                            sc = sc.addingProduct(xs[i] * (1 - ms[i]), SIMD16(repeating: rowC[i]))
                        }
                        for i in 0..<channels {
                            su = su.addingProduct(ms[i], SIMD16(repeating: rowU[channels + i]))
                            sc = sc.addingProduct(1 - ms[i], SIMD16(repeating: rowC[channels + i]))
                        }
                        let offset = base + o * plane + p0
                        if n == 16 {
                            UnsafeMutableRawPointer(pu + offset).storeBytes(of: su, as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(pc + offset).storeBytes(of: sc, as: SIMD16<Float>.self)
                        } else {
                            for l in 0..<n { pu[offset + l] = su[l]; pc[offset + l] = sc[l] }
                        }
                    }
                }
            }
        }
        return (u, c)
    }

    /// y = tanh(y) + c in place (same element count): the xAI generator's output.
    static func tanhAdding(_ y: Tensor, _ c: Tensor) {
        precondition(y.count == c.count, "tanhAdding: \(y.shape) and \(c.shape)")
        let (py, pc) = (y.pointer, c.pointer)
        Parallel.forRanges(y.count, minimumChunk: 16_384) { range in
            for i in range { py[i] = FastMath.tanh(py[i]) + pc[i] }
        }
    }

    /// a += b elementwise (same element count).
    static func add(_ a: Tensor, _ b: Tensor) {
        precondition(a.count == b.count, "add: \(a.shape) and \(b.shape)")
        Kernels.addInPlace(a.pointer, b.pointer, count: a.count)
    }
}
