import CBLAS
import CyclexEngine

/// Kernel Inception Distance (Bińkowski et al., 2018): the unbiased estimate of the squared
/// maximum mean discrepancy between two feature sets under the cubic polynomial kernel
/// k(x, y) = (x·y / d + 1)³, averaged over random subsets. Unlike FID it is unbiased, so it can
/// be compared across small test sets (about 100 images).
public enum KernelInceptionDistance {
    /// MMD²ᵤ = [Σ_{i≠j} k(xi, xj) + Σ_{i≠j} k(yi, yj)] / (m(m − 1)) − 2 Σ_{i,j} k(xi, yj) / m², with
    /// x = rows `xRows` of `x` and y = rows `yRows` of `y` (m rows each), in Double.
    public static func mmd2(_ x: FeatureMatrix, rows xRows: [Int], _ y: FeatureMatrix, rows yRows: [Int]) -> Double {
        precondition(x.dimension == y.dimension && xRows.count == yRows.count && xRows.count >= 2)
        let m = xRows.count, d = x.dimension
        func rows(_ f: FeatureMatrix, _ indices: [Int]) -> [Double] {
            var out = [Double](repeating: 0, count: m * d)
            for (r, i) in indices.enumerated() { for c in 0..<d { out[r * d + c] = Double(f.values[i * d + c]) } }
            return out
        }
        let xs = rows(x, xRows), ys = rows(y, yRows)
        /// Σ over the m × m kernel matrix of a and b (skipping the diagonal when `offDiagonal`).
        func kernelSum(_ a: [Double], _ b: [Double], offDiagonal: Bool) -> Double {
            var gram = [Double](repeating: 0, count: m * m)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(m), Int32(d), 1 / Double(d), a, Int32(d),
                        b, Int32(d), 0, &gram, Int32(m))
            var sum = 0.0
            for i in 0..<m {
                for j in 0..<m where !(offDiagonal && i == j) {
                    let base = gram[i * m + j] + 1
                    sum += base * base * base
                }
            }
            return sum
        }
        let xx = kernelSum(xs, xs, offDiagonal: true), yy = kernelSum(ys, ys, offDiagonal: true)
        let xy = kernelSum(xs, ys, offDiagonal: false)
        return (xx + yy) / Double(m * (m - 1)) - 2 * xy / Double(m * m)
    }

    /// The subset size used when none is given: 1000 rows (the usual KID setting) when both sets
    /// have at least 2000, otherwise half the smaller set, so subsets differ and their spread means something.
    public static func defaultSubsetSize(_ a: Int, _ b: Int) -> Int { max(2, min(1000, min(a, b) / 2)) }

    /// Mean and population standard deviation of MMD²ᵤ over `subsets` subsets of `subsetSize`
    /// rows of each set, drawn without replacement from a fixed seed (so scores are reproducible).
    public static func score(_ a: FeatureMatrix, _ b: FeatureMatrix, subsetSize: Int? = nil, subsets: Int = 100,
                             seed: UInt64 = 0) -> (mean: Double, std: Double) {
        let size = subsetSize ?? defaultSubsetSize(a.rows, b.rows)
        precondition(size >= 2 && size <= a.rows && size <= b.rows && subsets >= 1,
                     "KID subsets of \(size) rows from sets of \(a.rows) and \(b.rows)")
        var g = RandomGenerator(seed: seed)
        func draw(_ n: Int) -> [Int] {
            var indices = Array(0..<n)
            for i in 0..<size { indices.swapAt(i, i + g.nextInt(below: n - i)) }
            return Array(indices[0..<size])
        }
        var values: [Double] = []
        for _ in 0..<subsets { values.append(mmd2(a, rows: draw(a.rows), b, rows: draw(b.rows))) }
        return meanAndStd(values)
    }

    /// Mean and population (ddof 0) standard deviation.
    public static func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return (mean, variance.squareRoot())
    }
}
