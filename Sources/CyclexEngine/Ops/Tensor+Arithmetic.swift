/// Broadcasting arithmetic (NumPy rules) and scalar forms, with gradients.
extension Tensor {
    /// out = f(a, b) with broadcasting; same-shape and scalar operands take flat fast paths.
    static func broadcastingBinary(_ a: Tensor, _ b: Tensor, _ op: BinaryOperator) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor(uninitializedShape: a.shape)
            Kernels.binary(op, a.pointer, b.pointer, out.pointer, count: a.count)
            return out
        }
        guard let shape = Shape.broadcast(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let out = Tensor(uninitializedShape: shape)
        let pa = a.pointer, pb = b.pointer, po = out.pointer
        if b.count == 1 && shape == a.shape {
            Kernels.binary(op, pa, scalar: pb[0], po, count: out.count)
            return out
        }
        forEachBroadcast(
            outShape: shape, stridesA: Shape.broadcastStrides(a.shape, to: shape),
            stridesB: Shape.broadcastStrides(b.shape, to: shape)
        ) { o, ia, ib, n, sa, sb in
            for j in 0..<n { po[o + j] = op.apply(pa[ia + j * sa], pb[ib + j * sb]) }
        }
        return out
    }

    /// Sums `g` over the dimensions along which a tensor of `shape` was broadcast (the gradient
    /// of a broadcast operand).
    public static func reduced(_ g: Tensor, toShape shape: [Int]) -> Tensor {
        if g.shape == shape { return g }
        let out = Tensor(zeros: shape)
        let po = out.pointer, pg = g.pointer
        let zeroStrides = [Int](repeating: 0, count: g.shape.count)
        forEachBroadcast(
            outShape: g.shape, stridesA: Shape.broadcastStrides(shape, to: g.shape), stridesB: zeroStrides
        ) { o, ia, _, n, sa, _ in
            if sa == 0 {
                var s: Float = 0
                for j in 0..<n { s += pg[o + j] }
                po[ia] += s
            } else {
                for j in 0..<n { po[ia + j * sa] += pg[o + j] }
            }
        }
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastingBinary(a, b, .add)
        let (shapeA, shapeB) = (a.shape, b.shape)  // not the operands: their values are not needed
        return record(out, name: "add", inputs: [a, b]) { g, needs in
            [needs[0] ? reduced(g, toShape: shapeA) : nil, needs[1] ? reduced(g, toShape: shapeB) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastingBinary(a, b, .subtract)
        let (shapeA, shapeB) = (a.shape, b.shape)
        return record(out, name: "sub", inputs: [a, b]) { g, needs in
            [needs[0] ? reduced(g, toShape: shapeA) : nil, needs[1] ? reduced(-g, toShape: shapeB) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastingBinary(a, b, .multiply)
        guard willRecord(a, b) else { return out }
        // Each operand's gradient reads the other operand: keep a value only if it will be read.
        let (ad, bd) = (b.requiresGradient ? a.detached() : nil, a.requiresGradient ? b.detached() : nil)
        let (shapeA, shapeB) = (a.shape, b.shape)
        return record(out, name: "mul", inputs: [a, b]) { g, needs in
            [needs[0] ? reduced(broadcastingBinary(g, bd!, .multiply), toShape: shapeA) : nil,
             needs[1] ? reduced(broadcastingBinary(g, ad!, .multiply), toShape: shapeB) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastingBinary(a, b, .divide)
        let (ad, bd) = (a.detached(), b.detached())
        let (shapeA, shapeB) = (a.shape, b.shape)
        return record(out, name: "div", inputs: [a, b]) { g, needs in
            var ga: Tensor?, gb: Tensor?
            if needs[0] { ga = reduced(broadcastingBinary(g, bd, .divide), toShape: shapeA) }
            if needs[1] {
                let q = broadcastingBinary(broadcastingBinary(g, ad, .multiply), broadcastingBinary(bd, bd, .multiply), .divide)
                gb = reduced(-q, toShape: shapeB)
            }
            return [ga, gb]
        }
    }

    public static prefix func - (x: Tensor) -> Tensor { x * -1 }

    /// x · s
    public static func * (x: Tensor, s: Float) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        Kernels.binary(.multiply, x.pointer, scalar: s, out.pointer, count: x.count)
        return record(out, name: "scale", inputs: [x]) { g, _ in [g * s] }
    }

    public static func * (s: Float, x: Tensor) -> Tensor { x * s }
    public static func / (x: Tensor, s: Float) -> Tensor { x * (1 / s) }

    /// x + s
    public static func + (x: Tensor, s: Float) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        Kernels.binary(.add, x.pointer, scalar: s, out.pointer, count: x.count)
        return record(out, name: "shift", inputs: [x]) { g, _ in [g] }
    }

    public static func + (s: Float, x: Tensor) -> Tensor { x + s }
    public static func - (x: Tensor, s: Float) -> Tensor { x + (-s) }

    /// s − x (e.g. `1 - mask`)
    public static func - (s: Float, x: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        Kernels.map(x.pointer, out.pointer, count: x.count) { s - $0 }
        return record(out, name: "rsub", inputs: [x]) { g, _ in [-g] }
    }

    /// Elementwise |x| (gradient sign(x), 0 at 0).
    public func abs() -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.map(pointer, out.pointer, count: count) { Swift.abs($0) }
        let xd = detached()
        return Tensor.record(out, name: "abs", inputs: [self]) { g, _ in
            let r = Tensor(uninitializedShape: xd.shape)
            Kernels.zip(g.pointer, xd.pointer, r.pointer, count: r.count) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
            return [r]
        }
    }

    /// Elementwise x².
    public func squared() -> Tensor { self * self }
}
