import Foundation

/// Instance norm followed by (leaky) ReLU as one op: one pass fewer over the activation in each
/// direction, and one tensor fewer kept for the backward pass per layer (the normalised values
/// are recomputed from the op's input, which the graph keeps anyway, with the saved mean and
/// 1/σ). Values are those of `instanceNormalized().leakyRelu(slope:)`, bit for bit in the
/// forward pass.
extension Tensor {
    /// Whether the fused op runs (default: yes; `CYCLEX_FUSED_NORM=0` runs the two ops, for A/B).
    public static let fusesNormalization: Bool = ProcessInfo.processInfo.environment["CYCLEX_FUSED_NORM"] != "0"

    /// `instanceNormalized(epsilon:).leakyRelu(slope:)` of [B, C, H, W]; slope 0 is ReLU.
    public func instanceNormalizedRectified(slope: Float, epsilon: Float = 1e-5) -> Tensor {
        guard Self.fusesNormalization else {
            let normalized = instanceNormalized(epsilon: epsilon)
            return slope == 0 ? normalized.relu() : normalized.leakyRelu(slope: slope)
        }
        precondition(rank == 4, "instanceNormalizedRectified needs [B, C, H, W], got \(shape)")
        let planes = shape[0] * shape[1], n = shape[2] * shape[3]
        let out = Tensor(uninitializedShape: shape)
        let statistics = Tensor(uninitializedShape: [2 * planes])  // mean, 1/σ per plane
        let px = pointer, py = out.pointer, ps = statistics.pointer
        Parallel.forRanges(planes, minimumChunk: max(1, 8_192 / n)) { range in
            for plane in range {
                let x = px + plane * n, y = py + plane * n
                // The same arithmetic as `instanceNormalized` (centred values first, then scaled).
                let mean = Float(Kernels.sumDouble(x, count: n) / Double(n))
                for i in 0..<n { y[i] = x[i] - mean }
                let variance = Kernels.dot(y, y, count: n) / Double(n)
                let r = Float(1 / (variance + Double(epsilon)).squareRoot())
                ps[2 * plane] = mean
                ps[2 * plane + 1] = r
                if slope == 0 {
                    for i in 0..<n { let v = y[i] * r; y[i] = v > 0 ? v : 0 }
                } else {
                    for i in 0..<n { let v = y[i] * r; y[i] = v > 0 ? v : v * slope }
                }
            }
        }
        guard Tensor.willRecord(self) else { return out }
        let xd = detached()
        return Tensor.record(out, name: "instanceNormRectified", inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: xd.shape)
            let pg = g.pointer, px = xd.pointer, pgx = gx.pointer, ps = statistics.pointer
            Parallel.forRanges(planes, minimumChunk: max(1, 8_192 / n)) { range in
                for plane in range {
                    let gp = pg + plane * n, x = px + plane * n, d = pgx + plane * n
                    let (mean, r) = (ps[2 * plane], ps[2 * plane + 1])
                    // d holds the gradient at the normalised values ĝ = g · act′(x̂) first.
                    var sumG: Double = 0, sumGY: Double = 0
                    let (meanV, rV, slopeV) = (SIMD8<Float>(repeating: mean), SIMD8<Float>(repeating: r),
                                               SIMD8<Float>(repeating: slope))
                    var i = 0
                    while i < n {
                        // Float partial sums over ≤ 1024 elements, then Double (as `Kernels.sumDouble`).
                        let end = min(n, i + 1024)
                        var accG = SIMD8<Float>(), accGY = SIMD8<Float>()
                        var j = i
                        while j + 8 <= end {
                            let v = (UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) - meanV) * rV
                            let gh = UnsafeRawPointer(gp + j).loadUnaligned(as: SIMD8<Float>.self)
                                * slopeV.replacing(with: 1, where: v .> 0)
                            UnsafeMutableRawPointer(d + j).storeBytes(of: gh, as: SIMD8<Float>.self)
                            accG += gh
                            accGY += gh * v
                            j += 8
                        }
                        var partialG = accG.sum(), partialGY = accGY.sum()
                        while j < end {
                            let v = (x[j] - mean) * r
                            let gh = gp[j] * (v > 0 ? 1 : slope)
                            d[j] = gh
                            partialG += gh
                            partialGY += gh * v
                            j += 1
                        }
                        sumG += Double(partialG); sumGY += Double(partialGY)
                        i = end
                    }
                    let meanG = Float(sumG / Double(n)), meanGY = Float(sumGY / Double(n))
                    for j in 0..<n {
                        let v = (x[j] - mean) * r
                        d[j] = r * (d[j] - meanG - v * meanGY)
                    }
                }
            }
            return [gx]
        }
    }
}
