/// Shape arithmetic shared by the ops.
public enum Shape {
    /// Row-major strides of `shape`.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
        return strides
    }

    /// NumPy broadcasting of two shapes, or nil when they are incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out = [Int]()
        for (x, y) in zip(pa, pb) {
            if x == y || y == 1 { out.append(x) } else if x == 1 { out.append(y) } else { return nil }
        }
        return out
    }

    /// Strides for reading a tensor of `shape` as if broadcast to `target` (0 along broadcast dims).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        let s = strides(padded)
        return zip(padded, target).enumerated().map { i, dims in dims.0 == dims.1 ? s[i] : 0 }
    }
}

/// Visits every element of an `outShape` tensor, giving the flat offsets of two broadcast
/// operands. The innermost dimension runs as a tight loop with fixed strides.
@inline(__always)
func forEachBroadcast(
    outShape: [Int], stridesA: [Int], stridesB: [Int],
    _ body: (_ out: Int, _ a: Int, _ b: Int, _ n: Int, _ strideA: Int, _ strideB: Int) -> Void
) {
    let rank = outShape.count
    guard rank > 0 else { body(0, 0, 0, 1, 0, 0); return }
    let inner = outShape[rank - 1]
    let outer = outShape.dropLast().reduce(1, *)
    var index = [Int](repeating: 0, count: max(0, rank - 1))
    var offA = 0, offB = 0
    for o in 0..<outer {
        body(o * inner, offA, offB, inner, stridesA[rank - 1], stridesB[rank - 1])
        // Odometer increment over the outer dimensions.
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            offA += stridesA[d]; offB += stridesB[d]
            if index[d] < outShape[d] { break }
            offA -= stridesA[d] * outShape[d]; offB -= stridesB[d] * outShape[d]
            index[d] = 0
            d -= 1
        }
    }
}
