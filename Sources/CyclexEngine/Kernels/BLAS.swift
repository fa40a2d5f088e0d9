import CBLAS
import Foundation
import Synchronization

/// Row-major single-precision matrix products on OpenBLAS, run single-threaded and split over
/// the engine's worker pool (`Parallel`).
///
/// OpenBLAS's own threads are switched off (`Parallel.configured` pins it to one thread): on few
/// cores its threads and the pool's competed, and waking its second thread cost more than a
/// small product. A large product is cut into parts along the columns of C (or its rows when C
/// is narrow), and each part is one single-threaded `cblas_sgemm` claimed by whichever pool
/// thread is free.
///
/// The parts depend on the shape (m, n, k) only, never on the thread count, so a product gives
/// the same bits with 1, 2 or 16 threads (exact resume and MPI replicas rely on it). They may
/// differ from one unsplit call in the last bit: some OpenBLAS kernel families (e.g. Haswell)
/// round an element differently depending on where it falls in their register tiles.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta == 0 {
                for r in 0..<m { (c + r * ldc).update(repeating: 0, count: n) }
            } else if beta != 1 {
                for r in 0..<m { for j in 0..<n { c[r * ldc + j] *= beta } }
            }
            return
        }
        _ = Parallel.configured
        let split = GEMMSplit(m: m, n: n, k: k)
        let (ta, tb) = (transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans)
        if split.parts == 1 || !Parallel.usesPool {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                        beta, c, Int32(ldc))
            return
        }
        splitCount.add(1, ordering: .relaxed)
        Parallel.run(split.parts) { part in
            let range = split.range(part)
            if split.alongColumns {
                // Columns [j0, j1) of C come from the same columns of op(B): B's columns, or B's rows when transposed.
                let bPart = transposeB ? b + range.lowerBound * ldb : b + range.lowerBound
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(range.count), Int32(k), alpha, a, Int32(lda),
                            bPart, Int32(ldb), beta, c + range.lowerBound, Int32(ldc))
            } else {
                // Rows [i0, i1) of C come from the same rows of op(A): A's rows, or A's columns when transposed.
                let aPart = transposeA ? a + range.lowerBound : a + range.lowerBound * lda
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(range.count), Int32(n), Int32(k), alpha, aPart, Int32(lda),
                            b, Int32(ldb), beta, c + range.lowerBound * ldc, Int32(ldc))
            }
        }
    }

    /// Products run in parts since the process started (diagnostics; tests check that splitting happened).
    public static var splitProducts: Int { splitCount.load(ordering: .relaxed) }
    private static let splitCount = Atomic<Int>(0)

    /// Sets the number of threads products (and all parallel kernels) use: the pool's size.
    /// OpenBLAS itself stays at one thread.
    public static func setThreadCount(_ n: Int) { Parallel.setThreadCount(n) }

    /// The OpenBLAS kernel family in use (e.g. "Zen").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}

/// How `BLAS.sgemm` cuts an m×n×k product into parts: a function of the shape (and of the
/// machine's processor count), never of the thread count.
///
/// - Products below 2 × `minimumPartWork` multiply-adds stay whole: a part's fixed costs (its
///   own packing of the operand all parts share, the hand-off to a thread) would outweigh the gain.
/// - At most `maximumParts`: the machine's online processors rounded down to a power of two (at
///   least 2, at most 16), so an even number of parts keeps 2, 4, … threads equally busy. The
///   count of online processors does not change with the thread count or the CPU affinity
///   (MPI ranks bound to one core split like a whole process).
/// - Cut along the longer side of C, in blocks of `granule` (16 floats: whole cache lines and
///   vector registers): each part then repacks only the smaller operand (A for column blocks,
///   B for row blocks), measured 1–3 % of a part's time for 2 parts.
public struct GEMMSplit: Sendable, Equatable {
    public static let minimumPartWork = 1 << 20
    public static let maximumParts: Int = {
        let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var parts = 2
        while parts * 2 <= min(online, 16) { parts *= 2 }
        return parts
    }()
    public static let granule = 16

    /// Number of parts (1 = one call).
    public let parts: Int
    /// Whether parts are column blocks of C (else row blocks).
    public let alongColumns: Bool
    /// The length of the dimension being cut.
    public let extent: Int

    public init(m: Int, n: Int, k: Int) {
        alongColumns = n >= m || m < 2 * Self.granule
        extent = alongColumns ? n : m
        var p = min(Self.maximumParts, m * n * k / Self.minimumPartWork, extent / Self.granule)
        while p & (p - 1) != 0 { p &= p - 1 }  // a power of two
        parts = max(1, p)
    }

    /// The columns (or rows) of part `i`: contiguous blocks whose boundaries are multiples of `granule`.
    public func range(_ i: Int) -> Range<Int> {
        let granules = (extent + Self.granule - 1) / Self.granule
        let start = granules * i / parts * Self.granule
        let end = i + 1 == parts ? extent : granules * (i + 1) / parts * Self.granule
        return start..<end
    }
}
