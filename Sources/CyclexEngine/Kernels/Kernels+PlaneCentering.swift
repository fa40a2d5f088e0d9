extension Kernels {
    /// Centres one instance-norm plane: writes y[i] = x[i] − mean and returns the mean and
    /// 1/√(biased variance + ε) of the n values of x.
    ///
    /// The one place this arithmetic lives, so the plain and the fused instance norm
    /// (`instanceNormalized`, `instanceNormalizedRectified`) give bit-identical values.
    @inline(__always)
    static func centerPlane(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int,
                            epsilon: Float) -> (mean: Float, inverseStd: Float) {
        let mean = Float(sumDouble(x, count: n) / Double(n))
        for i in 0..<n { y[i] = x[i] - mean }
        let variance = dot(y, y, count: n) / Double(n)
        return (mean, Float(1 / (variance + Double(epsilon)).squareRoot()))
    }
}
