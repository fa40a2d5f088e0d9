/// Sums and means, over everything or over chosen axes.
extension Tensor {
    /// `g` (shape broadcastable to `shape`) copied out to `shape`.
    static func expanded(_ g: Tensor, toShape shape: [Int]) -> Tensor {
        if g.shape == shape { return g }
        let out = Tensor(uninitializedShape: shape)
        let po = out.pointer, pg = g.pointer
        forEachBroadcast(
            outShape: shape, stridesA: Shape.broadcastStrides(g.shape, to: shape),
            stridesB: [Int](repeating: 0, count: shape.count)
        ) { o, ia, _, n, sa, _ in
            for j in 0..<n { po[o + j] = pg[ia + j * sa] }
        }
        return out
    }

    /// Σ of all elements, as a 0-d tensor.
    public func sum() -> Tensor {
        let out = Tensor(Kernels.sum(pointer, count: count))
        let inputShape = shape
        return Tensor.record(out, name: "sum", inputs: [self]) { g, _ in
            [Tensor(repeating: g.item, shape: inputShape)]
        }
    }

    /// Mean of all elements, as a 0-d tensor.
    public func mean() -> Tensor {
        let n = Float(count)
        let out = Tensor(Float(Kernels.sumDouble(pointer, count: count) / Double(count)))
        let inputShape = shape
        return Tensor.record(out, name: "mean", inputs: [self]) { g, _ in
            [Tensor(repeating: g.item / n, shape: inputShape)]
        }
    }

    /// Σ over `axes` (negative axes count from the end); reduced axes are kept with size 1
    /// when `keepingDimensions`, dropped otherwise.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        precondition(normalized.allSatisfy { (0..<rank).contains($0) }, "axes \(axes) out of range for shape \(shape)")
        let keptShape = shape.enumerated().map { normalized.contains($0.offset) ? 1 : $0.element }
        let reducedTensor = Tensor.reduced(detached(), toShape: keptShape)
        let outShape = keepingDimensions ? keptShape : shape.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
        let out = Tensor(shape: outShape, storage: reducedTensor.storage)
        let inputShape = shape
        return Tensor.record(out, name: "sumAxes", inputs: [self]) { g, _ in
            [Tensor.expanded(Tensor(shape: keptShape, storage: g.storage), toShape: inputShape)]
        }
    }

    /// Mean over `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        let n = normalized.reduce(1) { $0 * shape[$1] }
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) * (1 / Float(n))
    }
}
