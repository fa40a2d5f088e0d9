import Foundation

/// Pointwise activations with PyTorch's derivatives at the kinks:
/// relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = α.
extension Tensor {
    /// Applies `forward` elementwise; the backward multiplies by `derivative(x, y)`. Only the
    /// operand the derivative reads is kept for the backward pass (`readsInput` x, otherwise y):
    /// the other may be freed as soon as the forward pass is done with it.
    @inline(__always)
    func pointwise(
        name: String, forward: (Float) -> Float, readsInput: Bool,
        derivative: @escaping (_ xOrY: Float) -> Float
    ) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.map(pointer, out.pointer, count: count, forward)
        guard Tensor.willRecord(self) else { return out }
        let saved = readsInput ? detached() : out.detached()
        return Tensor.record(out, name: name, inputs: [self]) { g, _ in
            let r = Tensor(uninitializedShape: saved.shape)
            Kernels.zip(g.pointer, saved.pointer, r.pointer, count: r.count) { g, v in g * derivative(v) }
            return [r]
        }
    }

    public func relu() -> Tensor { rectified(slope: 0, name: "relu") }

    /// max(x, 0) + slope · min(x, 0); PyTorch default slope 0.01, GANs here use 0.2.
    public func leakyRelu(slope: Float = 0.2) -> Tensor { rectified(slope: slope, name: "leakyRelu") }

    /// (Leaky) ReLU through the dedicated kernels; same values as `pointwise` with the closures
    /// `x > 0 ? x : slope·x` and derivative `x > 0 ? 1 : slope`.
    private func rectified(slope: Float, name: String) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.leakyRelu(pointer, out.pointer, count: count, slope: slope)
        guard Tensor.willRecord(self) else { return out }
        // With slope ≥ 0, y > 0 exactly where x > 0 (and y = ±0 at x = 0, like x): the backward can
        // read the output, which the next layer usually keeps anyway, and the input can go.
        let saved = slope >= 0 ? out.detached() : detached()
        return Tensor.record(out, name: name, inputs: [self]) { g, _ in
            let r = Tensor(uninitializedShape: saved.shape)
            Kernels.leakyReluBackward(g.pointer, saved.pointer, r.pointer, count: r.count, slope: slope)
            return [r]
        }
    }

    /// tanh via `FastMath.tanh` (|error| ≤ 3e-7); derivative 1 − y².
    public func tanh() -> Tensor {
        pointwise(name: "tanh", forward: FastMath.tanh, readsInput: false, derivative: { y in 1 - y * y })
    }

    /// 1 / (1 + e^(−x)); derivative y(1 − y).
    public func sigmoid() -> Tensor {
        pointwise(
            name: "sigmoid",
            forward: { x in x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) },
            readsInput: false, derivative: { y in y * (1 - y) })
    }

    /// x for x > 0, α(eˣ − 1) otherwise (α may be negative: the last version of xAI-CycleGAN's code
    /// uses −1.7288).
    public func elu(alpha: Float = 1) -> Tensor {
        pointwise(
            name: "elu", forward: { x in x > 0 ? x : alpha * (Foundation.exp(x) - 1) },
            readsInput: true, derivative: { x in x > 0 ? 1 : alpha * Foundation.exp(x) })
    }

    /// Exact GELU, x · Φ(x) = x · ½(1 + erf(x/√2)).
    public func gelu() -> Tensor {
        let invSqrt2: Float = 0.70710678118654752
        let invSqrt2Pi: Float = 0.39894228040143268
        return pointwise(
            name: "gelu", forward: { x in 0.5 * x * (1 + Foundation.erf(x * invSqrt2)) },
            readsInput: true,
            derivative: { x in
                0.5 * (1 + Foundation.erf(x * invSqrt2)) + x * invSqrt2Pi * Foundation.exp(-0.5 * x * x)
            })
    }

    /// log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        let n = shape[rank - 1]
        let rows = count / n
        let out = Tensor(uninitializedShape: shape)
        let px = pointer, po = out.pointer
        for r in 0..<rows {
            let x = px + r * n, y = po + r * n
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, x[j]) }
            var s: Double = 0
            for j in 0..<n { s += Foundation.exp(Double(x[j] - m)) }
            let logZ = m + Float(Foundation.log(s))
            for j in 0..<n { y[j] = x[j] - logZ }
        }
        let yd = out.detached()
        return Tensor.record(out, name: "logSoftmax", inputs: [self]) { g, _ in
            let r = Tensor(uninitializedShape: yd.shape)
            for row in 0..<rows {
                let gy = g.pointer + row * n, y = yd.pointer + row * n, gx = r.pointer + row * n
                var s: Float = 0
                for j in 0..<n { s += gy[j] }
                for j in 0..<n { gx[j] = gy[j] - Foundation.exp(y[j]) * s }
            }
            return [r]
        }
    }

    /// Dropout with an explicit keep-mask (1 keep, 0 drop): y = x · mask / (1 − p).
    public func dropout(probability p: Float, keepMask mask: Tensor) -> Tensor {
        precondition(mask.shape == shape, "dropout mask \(mask.shape) does not match \(shape)")
        let scale = 1 / (1 - p)
        let scaledMask = Tensor(uninitializedShape: shape)
        Kernels.map(mask.pointer, scaledMask.pointer, count: count) { $0 * scale }
        return self * scaledMask
    }

    /// Dropout drawing its keep-mask from `generator` (PyTorch semantics: each element kept with
    /// probability 1 − p and scaled by 1/(1 − p)).
    public func dropout(probability p: Float, using generator: inout RandomGenerator) -> Tensor {
        guard p > 0 else { return self }
        let mask = Tensor(uninitializedShape: shape)
        let m = mask.pointer
        for i in 0..<count { m[i] = generator.nextUniformFloat() >= p ? 1 : 0 }
        return dropout(probability: p, keepMask: mask)
    }
}
