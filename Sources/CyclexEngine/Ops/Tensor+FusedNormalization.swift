import Foundation

/// Instance norm followed by (leaky) ReLU as one op: one pass fewer over the activation in each
/// direction, and one tensor fewer kept for the backward pass per layer (the normalised values
/// are recomputed from the op's input, which the graph keeps anyway, with the saved mean and
/// 1/σ). Values and gradients are those of `instanceNormalized().leakyRelu(slope:)`, bit for bit.
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
                let (mean, r) = Kernels.centerPlane(x, into: y, count: n, epsilon: epsilon)
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
                // x̂ of one plane at a time, recomputed exactly as the forward pass computed it.
                let normalized = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { normalized.deallocate() }
                for plane in range {
                    let gp = pg + plane * n, x = px + plane * n, d = pgx + plane * n
                    let (mean, r) = (ps[2 * plane], ps[2 * plane + 1])
                    for i in 0..<n { normalized[i] = x[i] - mean }
                    for i in 0..<n { normalized[i] *= r }
                    // ĝ = g · act′(x̂) into d, then the instance-norm backward with the same sums,
                    // in the same order, as `leakyRelu` and `instanceNormalized` (bit-identical).
                    Kernels.leakyReluBackward(gp, normalized, d, count: n, slope: slope, parallel: false)
                    let meanG = Float(Kernels.sumDouble(d, count: n) / Double(n))
                    let meanGY = Float(Kernels.dot(d, normalized, count: n) / Double(n))
                    for i in 0..<n { d[i] = r * (d[i] - meanG - normalized[i] * meanGY) }
                }
            }
            return [gx]
        }
    }
}
