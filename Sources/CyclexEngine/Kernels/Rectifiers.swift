/// ReLU and leaky ReLU as literal loops. The generic `Kernels.map`/`zip3` call their closure once
/// per element (the closure is a captured value inside the parallel chunk), which held these two,
/// the commonest activations of the networks, at a third of memory speed; written out, the loops
/// vectorise.
extension Kernels {
    /// out[i] = x[i] > 0 ? x[i] : slope · x[i]; with slope 0 exactly PyTorch's ReLU (+0 for x ≤ 0).
    public static func leakyRelu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, slope: Float) {
        Parallel.forRanges(count, minimumChunk: 65_536) { r in
            if slope == 0 {
                for i in r { let v = x[i]; out[i] = v > 0 ? v : 0 }
            } else {
                for i in r { let v = x[i]; out[i] = v > 0 ? v : v * slope }
            }
        }
    }

    /// dx[i] = g[i] · (x[i] > 0 ? 1 : slope): the (leaky) ReLU backward, 0 at the kink as PyTorch.
    /// `parallel: false` runs on the calling thread (inside another kernel's parallel chunk).
    public static func leakyReluBackward(
        _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, slope: Float,
        parallel: Bool = true
    ) {
        guard parallel else {
            for i in 0..<count { out[i] = g[i] * (x[i] > 0 ? 1 : slope) }
            return
        }
        Parallel.forRanges(count, minimumChunk: 65_536) { r in
            for i in r { out[i] = g[i] * (x[i] > 0 ? 1 : slope) }
        }
    }
}
