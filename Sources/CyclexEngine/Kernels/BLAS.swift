import CBLAS

/// Row-major single-precision matrix products on OpenBLAS.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    @inlinable
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta == 0 { for r in 0..<m { (c + r * ldc).update(repeating: 0, count: n) } }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of OpenBLAS threads (default: all cores).
    public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The OpenBLAS kernel family in use (e.g. "Zen").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
