import CBFloat16Kernels
import CyclexEngine
import Foundation

/// The matrix-product engine behind one layer of the inference forward.
///
/// - `openBLAS`: float32 `cblas_sgemm` (and the engine's Winograd), on any CPU.
/// - `avx512`: float32 on cyclex's own AVX-512 kernel (`CBFloat16Kernels`): the operands are
///   packed once into 8-row and 32-column panels and an 8 × 32 register tile accumulates with FMA,
///   and the Winograd transforms write the packed panels directly. OpenBLAS calls are separate
///   multi-threaded products with their own packing each time; for the generator's many
///   medium-sized products (16 per Winograd convolution) the single packed pass is cheaper.
/// - `bf16`: the same structure with bfloat16 operands and VDPBF16PS (AVX512_BF16).
enum InferenceGEMM: Sendable {
    case openBLAS, avx512, bf16

    /// float32's engine here: the AVX-512 kernel where the CPU has AVX-512 (F, BW, VL), else
    /// OpenBLAS; `CYCLEX_INFERENCE_GEMM=openblas` forces OpenBLAS (for comparisons).
    static let float32: InferenceGEMM =
        cx_avx512_supported() != 0 && ProcessInfo.processInfo.environment["CYCLEX_INFERENCE_GEMM"] != "openblas"
        ? .avx512 : .openBLAS

    static func forPrecision(_ precision: InferencePrecision) -> InferenceGEMM {
        precision == .bf16 ? .bf16 : float32
    }

    /// Floats (32-bit words) of a packed A with m rows and k columns.
    func packedACount(m: Int, k: Int) -> Int {
        self == .bf16 ? cx_bf16_packed_a_count(Int32(m), Int32(k)) : cx_f32_packed_a_count(Int32(m), Int32(k))
    }

    /// Floats (32-bit words) of a packed B with k rows and n columns.
    func packedBCount(k: Int, n: Int) -> Int {
        self == .bf16 ? cx_bf16_packed_b_count(Int32(k), Int32(n)) : cx_f32_packed_b_count(Int32(k), Int32(n))
    }

    /// Packs row-major A [m × k] (row stride lda) once, e.g. a weight matrix (not for OpenBLAS).
    func packA(_ a: UnsafePointer<Float>, m: Int, k: Int, lda: Int) -> TensorStorage {
        let packed = TensorStorage(count: packedACount(m: m, k: k))
        if self == .bf16 {
            cx_bf16_pack_a(a, Int32(m), Int32(k), Int32(lda), packed.words)
        } else {
            cx_f32_pack_a(a, Int32(m), Int32(k), Int32(lda), packed.pointer)
        }
        return packed
    }

    /// C [m × n] (row stride ldc) = A · B (+ bias per row), B row-major [k × n] (row stride ldb, default n);
    /// `packedA` from `packA`, `scratch` holds at least `packedBCount(k:n:)` words. Split over the
    /// threads by panels of 32 columns, in one parallel region: each thread packs its own panels
    /// of B and multiplies them while they are still in its cache (a panel's product reads only
    /// that panel).
    func multiply(
        m: Int, n: Int, k: Int, packedA: TensorStorage, b: UnsafePointer<Float>, ldb: Int? = nil, scratch: TensorStorage,
        c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?
    ) {
        let ldb = ldb ?? n
        let panels = (n + 31) / 32
        let (pa, pb) = (packedA.pointer, scratch.pointer)
        let isBF16 = self == .bf16
        Parallel.forRanges(panels, minimumChunk: 1) { range in
            if isBF16 {
                cx_bf16_pack_b(b, Int32(k), Int32(n), Int32(ldb), UnsafeMutableRawPointer(pb).assumingMemoryBound(to: UInt32.self),
                               Int32(range.lowerBound), Int32(range.upperBound))
            } else {
                cx_f32_pack_b(b, Int32(k), Int32(n), Int32(ldb), pb, Int32(range.lowerBound), Int32(range.upperBound))
            }
            multiplyPacked(m: m, n: n, k: k, packedA: pa, packedB: pb, c: c, ldc: ldc, bias: bias, panels: range, split: false)
        }
    }

    /// C = A · B (+ bias) for the columns of `panels`, both operands already packed; runs on the
    /// calling thread.
    func multiplyPacked(
        m: Int, n: Int, k: Int, packedA: UnsafeMutablePointer<Float>, packedB: UnsafeMutablePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, panels: Range<Int>, split: Bool = true
    ) {
        let isBF16 = self == .bf16
        let body: (Range<Int>) -> Void = { range in
            if isBF16 {
                cx_bf16_gemm(Int32(m), Int32(n), Int32(k), Self.words(packedA), Self.words(packedB), c, Int32(ldc), bias, 0,
                             Int32(range.lowerBound), Int32(range.upperBound))
            } else {
                cx_f32_gemm(Int32(m), Int32(n), Int32(k), packedA, packedB, c, Int32(ldc), bias, 0,
                            Int32(range.lowerBound), Int32(range.upperBound))
            }
        }
        if split {
            Parallel.forRanges(panels.count, minimumChunk: 1) { r in body((panels.lowerBound + r.lowerBound)..<(panels.lowerBound + r.upperBound)) }
        } else {
            body(panels)
        }
    }

    static func words(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.self)
    }
}

extension TensorStorage {
    /// The buffer as 32-bit words (packed bf16 pairs take one float's room each).
    var words: UnsafeMutablePointer<UInt32> { InferenceGEMM.words(pointer) }
}
