import CBFloat16Kernels
import CyclexEngine

/// The arithmetic of the dense DeepSHAP's pair backward (docs/explanations.md#deepshap-precision).
public enum ExplanationPrecision: String, Codable, Sendable, CaseIterable {
    /// float32 products (the default; what the captum fixture checks).
    case f32
    /// The products' operands rounded to bfloat16 (8-bit mantissa), accumulated in float32 on the
    /// CPU's AVX512_BF16 dot-product instructions (`CBFloat16Kernels`); slopes, forward passes and
    /// the final (x − b)·m sums stay float32.
    case bf16

    /// Whether this CPU runs the bf16 kernels (AVX512F/BW/VL and AVX512_BF16, checked once).
    public static let bf16Available: Bool = cx_bf16_supported() != 0
}

/// C [in, n] = Wᵀ·B for a layer weight W [out, in] and B [out, n], all row-major: the multipliers
/// of n pairs sent back through one Linear layer, pairs as columns.
enum TransposedWeightProduct {
    static func multiply(weight: Tensor, _ b: UnsafePointer<Float>, columns n: Int,
                         into c: UnsafeMutablePointer<Float>, precision: ExplanationPrecision) {
        let (out, inputs) = (weight.shape[0], weight.shape[1])
        // One output row needs no product worth converting (the sigmoid layer's Wᵀ·s is an outer product).
        if precision == .f32 || out < 2 || !ExplanationPrecision.bf16Available {
            BLAS.sgemm(transposeA: true, m: inputs, n: n, k: out, a: weight.pointer, lda: inputs, b: b, ldb: n,
                       c: c, ldc: n)
            return
        }
        let packedA = UnsafeMutablePointer<UInt32>.allocate(capacity: cx_bf16_packed_a_count(Int32(inputs), Int32(out)))
        let packedB = UnsafeMutablePointer<UInt32>.allocate(capacity: cx_bf16_packed_b_count(Int32(out), Int32(n)))
        defer { packedA.deallocate(); packedB.deallocate() }
        // Wᵀ [inputs, out] is W read down its columns: row stride 1, column stride `inputs`.
        cx_bf16_pack_a_strided(weight.pointer, Int32(inputs), Int32(out), 1, inputs, packedA)
        let panels = (n + 31) / 32
        Parallel.forRanges(panels, minimumChunk: 8) { range in
            cx_bf16_pack_b(b, Int32(out), Int32(n), Int32(n), packedB, Int32(range.lowerBound), Int32(range.upperBound))
            cx_bf16_gemm(Int32(inputs), Int32(n), Int32(out), packedA, packedB, c, Int32(n), nil, 0,
                         Int32(range.lowerBound), Int32(range.upperBound))
        }
    }
}
