import CyclexEngine
import Testing

struct LAPACKTests {
    @Test func symmetricEigenKnownAnswer() throws {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, −1)/√2 and (1, 1)/√2.
        let (values, vectors) = try SymmetricEigen.decompose([2, 1, 1, 2], size: 2)
        #expect(abs(values[0] - 1) < 1e-12 && abs(values[1] - 3) < 1e-12)
        let s = 1 / 2.0.squareRoot()
        #expect(abs(abs(vectors[0]) - s) < 1e-12 && abs(vectors[0] + vectors[1]) < 1e-12)
        #expect(abs(vectors[2] - vectors[3]) < 1e-12)
    }

    @Test func reconstructsRandomMatrix() throws {
        var g = RandomGenerator(seed: 5)
        let n = 6
        var b = [Double](repeating: 0, count: n * n)
        for i in 0..<(n * n) { b[i] = g.nextUniformDouble() - 0.5 }
        var a = [Double](repeating: 0, count: n * n)  // A = B Bᵀ, symmetric positive semi-definite
        for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += b[i * n + k] * b[j * n + k] } } }
        let (values, vectors) = try SymmetricEigen.decompose(a, size: n)
        // A = Σ λ_k v_k v_kᵀ with v_k the k-th row.
        for i in 0..<n {
            for j in 0..<n {
                var sum = 0.0
                for k in 0..<n { sum += values[k] * vectors[k * n + i] * vectors[k * n + j] }
                #expect(abs(sum - a[i * n + j]) < 1e-10)
            }
        }
        #expect(values == values.sorted() && values[0] > -1e-12)
    }
}
