import Foundation

/// LIME's surrogate fit (docs/explanations.md#lime): a weighted ridge regression in Double.
extension LimeExplainer {
    /// Weighted ridge regression with an unpenalised intercept, in Double: minimises
    /// Σ wᵢ (yᵢ − β₀ − xᵢ·β)² + penalty·|β|² by centring on the weighted means and solving
    /// (XcᵀWXc + penalty·I) β = XcᵀW yc with a Cholesky factorisation. `features` is [n × p]
    /// row-major. Returns β (no intercept).
    public static func weightedRidge(features x: [Double], rows n: Int, columns p: Int, targets y: [Double],
                                     weights: [Double], penalty: Double) -> [Double] {
        precondition(x.count == n * p && y.count == n && weights.count == n, "ridge: inconsistent sizes")
        let total = max(weights.reduce(0, +), 1e-300)
        var meanX = [Double](repeating: 0, count: p)
        var meanY = 0.0
        for i in 0..<n { meanY += weights[i] * y[i] }
        meanY /= total
        var a = [Double](repeating: 0, count: p * p), rhs = [Double](repeating: 0, count: p)
        x.withUnsafeBufferPointer { x in
            meanX.withUnsafeMutableBufferPointer { mean in
                for i in 0..<n { for j in 0..<p { mean[j] += weights[i] * x[i * p + j] } }
                for j in 0..<p { mean[j] /= total }
            }
            // Upper triangle of Σᵢ wᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ and Σᵢ wᵢ (xᵢ − x̄)(yᵢ − ȳ).
            var row = [Double](repeating: 0, count: p)
            a.withUnsafeMutableBufferPointer { a in
                rhs.withUnsafeMutableBufferPointer { rhs in
                    row.withUnsafeMutableBufferPointer { row in
                        meanX.withUnsafeBufferPointer { mean in
                            for i in 0..<n {
                                for j in 0..<p { row[j] = x[i * p + j] - mean[j] }
                                let wi = weights[i], yi = y[i] - meanY
                                for j in 0..<p {
                                    let wj = wi * row[j]
                                    rhs[j] += wj * yi
                                    let line = a.baseAddress! + j * p
                                    for k in j..<p { line[k] += wj * row[k] }
                                }
                            }
                        }
                    }
                }
                for j in 0..<p {
                    a[j * p + j] += penalty
                    for k in 0..<j { a[j * p + k] = a[k * p + j] }
                }
            }
        }
        return solvePositiveDefinite(a, rhs, size: p)
    }

    /// Solves A x = b for symmetric positive (semi-)definite A by Cholesky; a tiny diagonal jitter
    /// keeps a singular system (penalty 0 with a constant column) solvable.
    static func solvePositiveDefinite(_ matrix: [Double], _ b: [Double], size p: Int) -> [Double] {
        var l = [Double](repeating: 0, count: p * p)
        let jitter = 1e-12 * max(1, (0..<p).map { matrix[$0 * p + $0] }.max() ?? 1)
        l.withUnsafeMutableBufferPointer { l in
            matrix.withUnsafeBufferPointer { matrix in
                for j in 0..<p {
                    var diagonal = matrix[j * p + j] + jitter
                    for k in 0..<j { diagonal -= l[j * p + k] * l[j * p + k] }
                    let root = max(diagonal, jitter).squareRoot()
                    l[j * p + j] = root
                    for i in (j + 1)..<max(p, j + 1) {
                        var v = matrix[i * p + j]
                        for k in 0..<j { v -= l[i * p + k] * l[j * p + k] }
                        l[i * p + j] = v / root
                    }
                }
            }
        }
        var y = [Double](repeating: 0, count: p)
        for i in 0..<p {
            var v = b[i]
            for k in 0..<i { v -= l[i * p + k] * y[k] }
            y[i] = v / l[i * p + i]
        }
        var x = [Double](repeating: 0, count: p)
        for i in stride(from: p - 1, through: 0, by: -1) {
            var v = y[i]
            for k in (i + 1)..<max(p, i + 1) { v -= l[k * p + i] * x[k] }
            x[i] = v / l[i * p + i]
        }
        return x
    }
}
