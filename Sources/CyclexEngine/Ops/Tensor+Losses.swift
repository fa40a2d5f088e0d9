import Foundation

/// Mean-reduced losses. The target is a constant: no gradient flows into it.
extension Tensor {
    /// Builds a scalar loss Σ f(x, t) / N with gradient g·f'(x, t) / N.
    @inline(__always)
    func elementwiseLoss(
        name: String, target: Tensor, value: (Float, Float) -> Double,
        derivative: @escaping (Float, Float) -> Float
    ) -> Tensor {
        precondition(target.count == count || target.count == 1,
                     "\(name): target \(target.shape) does not match prediction \(shape)")
        let px = pointer, pt = target.pointer
        let broadcastTarget = target.count == 1 && count != 1
        var total: Double = 0
        for i in 0..<count { total += value(px[i], pt[broadcastTarget ? 0 : i]) }
        let n = Float(count)
        let out = Tensor(Float(total / Double(count)))
        let (xd, td) = (detached(), target.detached())
        return Tensor.record(out, name: name, inputs: [self]) { g, _ in
            let scale = g.item / n
            let gx = Tensor(uninitializedShape: xd.shape)
            let px = xd.pointer, pt = td.pointer, pg = gx.pointer
            for i in 0..<xd.count { pg[i] = scale * derivative(px[i], pt[broadcastTarget ? 0 : i]) }
            return [gx]
        }
    }

    /// mean((x − t)²)
    public func mseLoss(target: Tensor) -> Tensor {
        elementwiseLoss(name: "mse", target: target, value: { x, t in let d = Double(x - t); return d * d },
                        derivative: { x, t in 2 * (x - t) })
    }

    /// mean((x − t)²) against a constant (LSGAN targets 1 and 0).
    public func mseLoss(target: Float) -> Tensor { mseLoss(target: Tensor(target)) }

    /// mean(|x − t|); d|0|/dx = 0.
    public func l1Loss(target: Tensor) -> Tensor {
        elementwiseLoss(name: "l1", target: target, value: { x, t in Double(Swift.abs(x - t)) },
                        derivative: { x, t in x > t ? 1 : (x < t ? -1 : 0) })
    }

    /// Binary cross-entropy on probabilities, each log clamped at −100 as PyTorch does.
    public func bceLoss(target: Tensor) -> Tensor {
        elementwiseLoss(
            name: "bce", target: target,
            value: { x, t in
                let logX = Swift.max(Foundation.log(Double(x)), -100)
                let log1mX = Swift.max(Foundation.log(1 - Double(x)), -100)
                return -(Double(t) * logX + (1 - Double(t)) * log1mX)
            },
            derivative: { x, t in (x - t) / Swift.max((1 - x) * x, 1e-12) })
    }

    /// BCE against a constant label (e.g. 0.9 / 0.1 smoothing).
    public func bceLoss(target: Float) -> Tensor { bceLoss(target: Tensor(target)) }

    /// BCE on logits, stable form max(x, 0) − x·t + log(1 + e^(−|x|)); gradient σ(x) − t.
    public func bceWithLogitsLoss(target: Tensor) -> Tensor {
        elementwiseLoss(
            name: "bceWithLogits", target: target,
            value: { x, t in
                let xd = Double(x)
                return Swift.max(xd, 0) - xd * Double(t) + Foundation.log1p(Foundation.exp(-Swift.abs(xd)))
            },
            derivative: { x, t in
                let s = x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
                return s - t
            })
    }

    /// Huber loss: ½d² for |d| < δ, δ(|d| − ½δ) otherwise.
    public func huberLoss(target: Tensor, delta: Float = 1) -> Tensor {
        elementwiseLoss(
            name: "huber", target: target,
            value: { x, t in
                let d = Double(Swift.abs(x - t)), dl = Double(delta)
                return d < dl ? 0.5 * d * d : dl * (d - 0.5 * dl)
            },
            derivative: { x, t in Swift.min(Swift.max(x - t, -delta), delta) })
    }
}
