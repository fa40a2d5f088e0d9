import CBLAS
import CyclexEngine

/// The Fréchet distance between two Gaussians fitted to feature sets (FID when the features are
/// Inception pool3 activations):
///
///     FID = |μa − μb|² + tr Σa + tr Σb − 2 tr √(Σa Σb)
///
/// computed in Double. tr √(Σa Σb) equals tr √(√Σa Σb √Σa), the trace of the square root of a
/// symmetric positive semi-definite matrix, so it comes from two symmetric eigen-decompositions
/// (LAPACK `dsyevd`) instead of a general matrix square root: with Σa = Vᵀ diag(λ) V,
/// √Σa Σb √Σa is orthogonally similar to (D V) Σb (D V)ᵀ with D = diag(√λ), whose eigenvalues μ
/// give tr = Σ √max(μ, 0). Tiny negative eigenvalues from rounding are clamped to zero.
public enum FrechetDistance {
    public static func distance(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        precondition(a.dimension == b.dimension, "FID of \(a.dimension)-d and \(b.dimension)-d features")
        let d = a.dimension
        var meanTerm = 0.0
        for i in 0..<d { meanTerm += (a.mean[i] - b.mean[i]) * (a.mean[i] - b.mean[i]) }
        var traces = 0.0
        for i in 0..<d { traces += a.covariance[i * d + i] + b.covariance[i * d + i] }
        return meanTerm + traces - 2 * (try traceSquareRootOfProduct(a.covariance, b.covariance, size: d))
    }

    /// tr √(Σa Σb) for symmetric positive semi-definite d × d row-major matrices.
    public static func traceSquareRootOfProduct(_ sa: [Double], _ sb: [Double], size d: Int) throws -> Double {
        let (lambda, v) = try SymmetricEigen.decompose(sa, size: d)
        // W = D V: row k of V (an eigenvector) scaled by √λk.
        var w = v
        for k in 0..<d {
            let s = max(lambda[k], 0).squareRoot()
            for j in 0..<d { w[k * d + j] *= s }
        }
        var t = [Double](repeating: 0, count: d * d)
        var m = [Double](repeating: 0, count: d * d)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, w, Int32(d), sb, Int32(d), 0, &t, Int32(d))
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(d), Int32(d), Int32(d), 1, t, Int32(d), w, Int32(d), 0, &m, Int32(d))
        for i in 0..<d { for j in 0..<i { let s = 0.5 * (m[i * d + j] + m[j * d + i]); m[i * d + j] = s; m[j * d + i] = s } }
        let (mu, _) = try SymmetricEigen.decompose(m, size: d, vectors: false)
        return mu.reduce(0) { $0 + max($1, 0).squareRoot() }
    }
}
