/// Elementwise and reduction kernels on raw pointers (no autodiff). Large loops are split over
/// the cores; plain pointer loops auto-vectorise, explicit SIMD is used for float reductions
/// (Swift never reassociates floating point on its own).
public enum Kernels {
    /// dst[i] += src[i]
    public static func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
        Parallel.forRanges(count, minimumChunk: 65_536) { r in
            for i in r { dst[i] += src[i] }
        }
    }

    /// out[i] = f(x[i]), split over the cores for large counts.
    @inline(__always)
    public static func map(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, _ f: (Float) -> Float
    ) {
        Parallel.forRanges(count, minimumChunk: 32_768) { r in
            for i in r { out[i] = f(x[i]) }
        }
    }

    /// out[i] = f(a[i], b[i]).
    @inline(__always)
    public static func zip(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
        _ f: (Float, Float) -> Float
    ) {
        Parallel.forRanges(count, minimumChunk: 32_768) { r in
            for i in r { out[i] = f(a[i], b[i]) }
        }
    }

    /// out[i] = f(a[i], b[i], c[i]).
    @inline(__always)
    public static func zip3(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, count: Int, _ f: (Float, Float, Float) -> Float
    ) {
        Parallel.forRanges(count, minimumChunk: 32_768) { r in
            for i in r { out[i] = f(a[i], b[i], c[i]) }
        }
    }

    /// Σ x[i], with eight-lane SIMD accumulators (in Double for the final combine).
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        Float(sumDouble(x, count: count))
    }

    /// Σ x[i] accumulated in float SIMD lanes, combined in Double.
    public static func sumDouble(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= count {
            acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc1 += raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
            i += 16
        }
        var total = Double((acc0 + acc1).sum())
        while i < count { total += Double(x[i]); i += 1 }
        return total
    }

    /// Σ a[i]·b[i].
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= count {
            acc0 = acc0.addingProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                      rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            acc1 = acc1.addingProduct(ra.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self),
                                      rb.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self))
            i += 16
        }
        var total = Double((acc0 + acc1).sum())
        while i < count { total += Double(a[i]) * Double(b[i]); i += 1 }
        return total
    }
}
