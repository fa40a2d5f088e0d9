import CBLAS

/// `rows` feature vectors of `dimension` values each, row-major float32 (rows × dimension),
/// e.g. the 2048-d Inception pool3 features of a set of images.
public struct FeatureMatrix: Sendable {
    public let rows: Int
    public let dimension: Int
    public var values: [Float]

    public init(rows: Int, dimension: Int, values: [Float]) {
        precondition(rows >= 0 && dimension > 0 && values.count == rows * dimension,
                     "FeatureMatrix: \(values.count) values for \(rows) x \(dimension)")
        self.rows = rows; self.dimension = dimension; self.values = values
    }

    /// The rows at `indices`, in that order.
    public func selecting(rows indices: [Int]) -> FeatureMatrix {
        var out = [Float]()
        out.reserveCapacity(indices.count * dimension)
        for i in indices { out += values[(i * dimension)..<((i + 1) * dimension)] }
        return FeatureMatrix(rows: indices.count, dimension: dimension, values: out)
    }

    /// Rows of `self` followed by rows of `other`.
    public func appending(_ other: FeatureMatrix) -> FeatureMatrix {
        precondition(other.dimension == dimension)
        return FeatureMatrix(rows: rows + other.rows, dimension: dimension, values: values + other.values)
    }
}

/// Mean and covariance of a feature set in Double: μ = column means, Σ = (X − μ)ᵀ(X − μ) / (n − 1)
/// (the unbiased estimate, as numpy's `cov(rowvar=False)`), d × d row-major.
public struct FeatureStatistics: Sendable {
    public let count: Int
    public let dimension: Int
    public let mean: [Double]
    public let covariance: [Double]

    public init(count: Int, mean: [Double], covariance: [Double]) {
        precondition(covariance.count == mean.count * mean.count)
        self.count = count; self.dimension = mean.count; self.mean = mean; self.covariance = covariance
    }

    /// Needs at least two rows (the covariance divides by n − 1).
    public init(_ features: FeatureMatrix) {
        let (n, d) = (features.rows, features.dimension)
        precondition(n >= 2, "feature statistics need at least 2 rows, got \(n)")
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for c in 0..<d { mean[c] += Double(features.values[r * d + c]) } }
        for c in 0..<d { mean[c] /= Double(n) }
        var centred = [Double](repeating: 0, count: n * d)
        for r in 0..<n { for c in 0..<d { centred[r * d + c] = Double(features.values[r * d + c]) - mean[c] } }
        var covariance = [Double](repeating: 0, count: d * d)
        // Σ = Xcᵀ Xc / (n − 1): the upper triangle from dsyrk, mirrored.
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(n), 1 / Double(n - 1), centred, Int32(d),
                    0, &covariance, Int32(d))
        for i in 0..<d { for j in 0..<i { covariance[i * d + j] = covariance[j * d + i] } }
        self.init(count: n, mean: mean, covariance: covariance)
    }
}
