import CBLAS

/// Eigen-decomposition of a real symmetric matrix with LAPACK's divide-and-conquer `dsyevd`
/// (exported by Debian's libopenblas). For the Fréchet distance: tr √(√Σa Σb √Σa).
public enum SymmetricEigen {
    public enum Failure: Error, Equatable { case lapack(info: Int) }

    /// Eigenvalues (ascending) and, when `vectors`, the eigenvectors as the rows of an n×n
    /// row-major matrix, of the symmetric n×n row-major `matrix` (only its values are read).
    public static func decompose(_ matrix: [Double], size n: Int, vectors: Bool = true) throws -> (values: [Double], vectors: [Double]) {
        precondition(matrix.count == n * n, "decompose: \(matrix.count) values for a \(n)x\(n) matrix")
        guard n > 0 else { return ([], []) }
        // Symmetric, so row-major equals column-major; LAPACK's column-major eigenvectors come
        // back as columns, i.e. as rows of our row-major view after the call.
        var a = matrix
        var values = [Double](repeating: 0, count: n)
        var (job, uplo) = (Int8(UInt8(ascii: vectors ? "V" : "N")), Int8(UInt8(ascii: "U")))
        var (size, lda, info) = (Int32(n), Int32(n), Int32(0))
        var workQuery = 0.0, iworkQuery = Int32(0)
        var (lwork, liwork) = (Int32(-1), Int32(-1))
        dsyevd_(&job, &uplo, &size, &a, &lda, &values, &workQuery, &lwork, &iworkQuery, &liwork, &info)
        guard info == 0 else { throw Failure.lapack(info: Int(info)) }
        lwork = Int32(workQuery); liwork = iworkQuery
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&job, &uplo, &size, &a, &lda, &values, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw Failure.lapack(info: Int(info)) }
        return (values, vectors ? a : [])
    }
}
