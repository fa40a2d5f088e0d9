import CyclexEngine
import Dispatch
import Testing

/// The worker pool behind `Parallel` and the split products of `BLAS.sgemm`: every task runs
/// exactly once whatever the thread count, nested and concurrent calls finish, and a product
/// gives the same bits with 1, 2 or 3 threads (exact resume and MPI replicas rely on that) and
/// matches a float64 reference.
@Suite(.serialized) struct WorkerPoolTests {
    /// Runs `body` with the pool at each thread count, then restores the previous count.
    static func withThreadCounts(_ counts: [Int], _ body: (Int) -> Void) {
        let before = Parallel.threadCount
        for n in counts {
            Parallel.setThreadCount(n)
            body(n)
        }
        Parallel.setThreadCount(before)
    }

    @Test func everyIndexRunsExactlyOnce() {
        Self.withThreadCounts([1, 2, 3]) { threads in
            for count in [1, 2, 3, 7, 64, 1_001] {
                var hits = [Int](repeating: 0, count: count)
                hits.withUnsafeMutableBufferPointer { h in
                    Parallel.forRanges(count, minimumChunk: 1) { range in
                        for i in range { h[i] += 1 }
                    }
                }
                #expect(hits.allSatisfy { $0 == 1 }, "forRanges count \(count), \(threads) threads")

                var runs = [Int](repeating: 0, count: count)
                runs.withUnsafeMutableBufferPointer { r in
                    Parallel.run(count) { i in r[i] += i + 1 }
                }
                #expect(runs == (0..<count).map { $0 + 1 }, "run count \(count), \(threads) threads")
            }
        }
    }

    /// Many short jobs back to back: a task claimed twice, or a late worker claiming a task of the
    /// next job, would show as a wrong sum.
    @Test func shortJobsBackToBack() {
        Self.withThreadCounts([2, 3]) { threads in
            var sums = [Int](repeating: 0, count: 5)
            for job in 0..<20_000 {
                let tasks = 2 + job % 4
                sums.withUnsafeMutableBufferPointer { s in
                    for i in 0..<tasks { s[i] = 0 }
                    Parallel.run(tasks) { i in s[i] = job &+ i }
                }
                let expected = (0..<tasks).map { job &+ $0 }
                if Array(sums[0..<tasks]) != expected {
                    Issue.record("job \(job) (\(tasks) tasks, \(threads) threads): \(sums[0..<tasks]) != \(expected)")
                    return
                }
            }
        }
    }

    /// A parallel call from inside a task runs serially on that thread instead of waiting for the
    /// busy pool, so it cannot deadlock; and its ranges still cover everything once.
    @Test func nestedCallsFinishAndCoverEverything() {
        Self.withThreadCounts([2, 3]) { _ in
            let (outer, inner) = (6, 50)
            var hits = [Int](repeating: 0, count: outer * inner)
            hits.withUnsafeMutableBufferPointer { h in
                Parallel.forEach(outer) { o in
                    #expect(Parallel.isInsideTask)
                    Parallel.forRanges(inner, minimumChunk: 1) { range in
                        for i in range { h[o * inner + i] += 1 }
                    }
                }
            }
            #expect(hits.allSatisfy { $0 == 1 })
            #expect(!Parallel.isInsideTask)
        }
    }

    /// Several threads of the process calling at once: one owns the pool, the others run their
    /// work serially; every result is complete.
    @Test func concurrentCallersAllComplete() {
        Self.withThreadCounts([2]) { _ in
            let callers = 4, count = 512
            let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: callers * count)
            defer { results.deallocate() }
            results.initialize(repeating: 0)
            nonisolated(unsafe) let shared = results
            DispatchQueue.concurrentPerform(iterations: callers) { caller in
                for round in 1...200 {
                    Parallel.forRanges(count, minimumChunk: 16) { range in
                        for i in range { shared[caller * count + i] = round }
                    }
                }
            }
            #expect(results.allSatisfy { $0 == 200 })
        }
    }

    // MARK: - Split products

    /// A deterministic pseudo-random matrix with `rows` rows of stride `stride` (padding filled too).
    static func matrix(rows: Int, stride: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<(rows * stride)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }

    struct Case: CustomStringConvertible {
        let m, n, k: Int
        let transposeA, transposeB: Bool
        let alpha, beta: Float
        var description: String { "m\(m) n\(n) k\(k) tA \(transposeA) tB \(transposeB) α \(alpha) β \(beta)" }
    }

    /// Products large enough to be split (along the columns of C, or its rows where C is taller than wide), odd
    /// sizes that leave partial granules, both transposes, β ≠ 0, and padded row strides.
    static let cases: [Case] = [
        Case(m: 64, n: 1_001, k: 333, transposeA: false, transposeB: false, alpha: 1, beta: 0),
        Case(m: 37, n: 515, k: 529, transposeA: true, transposeB: false, alpha: 0.5, beta: 1),
        Case(m: 71, n: 389, k: 260, transposeA: false, transposeB: true, alpha: 1, beta: -0.75),
        Case(m: 129, n: 300, k: 411, transposeA: true, transposeB: true, alpha: 2, beta: 0.25),
        Case(m: 2_049, n: 17, k: 150, transposeA: false, transposeB: false, alpha: 1, beta: 1),
        Case(m: 517, n: 9, k: 1_030, transposeA: true, transposeB: true, alpha: 1, beta: 0),
        Case(m: 301, n: 40, k: 203, transposeA: true, transposeB: false, alpha: 1, beta: 0.5),
    ]

    /// A case's operands with padded row strides (3, 5 and 7 floats longer than needed).
    struct Operands {
        let lda, ldb, ldc: Int
        let a, b, c: [Float]
        init(_ c: Case) {
            let (aRows, aColumns) = c.transposeA ? (c.k, c.m) : (c.m, c.k)
            let (bRows, bColumns) = c.transposeB ? (c.n, c.k) : (c.k, c.n)
            (lda, ldb, ldc) = (aColumns + 3, bColumns + 5, c.n + 7)
            a = WorkerPoolTests.matrix(rows: aRows, stride: lda, seed: 1)
            b = WorkerPoolTests.matrix(rows: bRows, stride: ldb, seed: 2)
            self.c = WorkerPoolTests.matrix(rows: c.m, stride: ldc, seed: 3)
        }
    }

    /// C after `BLAS.sgemm`.
    static func product(_ c: Case, _ o: Operands) -> [Float] {
        var out = o.c
        out.withUnsafeMutableBufferPointer { p in
            BLAS.sgemm(transposeA: c.transposeA, transposeB: c.transposeB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                       a: o.a, lda: o.lda, b: o.b, ldb: o.ldb, beta: c.beta, c: p.baseAddress!, ldc: o.ldc)
        }
        return out
    }

    /// Whether element (i, j) of C is checked against float64 (every 29th: keeps the unoptimised test build quick).
    static func sampled(_ i: Int, _ j: Int, _ n: Int) -> Bool { (i * n + j) % 29 == 0 }

    /// The largest |C − float64 product| over the sampled elements, and the largest Σ|terms| there
    /// (the error scale).
    static func error(_ c: Case, _ o: Operands, _ result: [Float]) -> (worst: Double, scale: Double) {
        var worst = 0.0, scale = 0.0
        for i in 0..<c.m {
            for j in 0..<c.n where sampled(i, j, c.n) {
                var sum = 0.0, magnitude = 0.0
                for l in 0..<c.k {
                    let x = Double(c.transposeA ? o.a[l * o.lda + i] : o.a[i * o.lda + l])
                    let y = Double(c.transposeB ? o.b[j * o.ldb + l] : o.b[l * o.ldb + j])
                    sum += x * y
                    magnitude += abs(x * y)
                }
                let old = Double(o.c[i * o.ldc + j])
                worst = max(worst, abs(Double(result[i * o.ldc + j]) - (Double(c.alpha) * sum + Double(c.beta) * old)))
                scale = max(scale, abs(Double(c.alpha)) * magnitude + abs(Double(c.beta) * old))
            }
        }
        return (worst, scale)
    }

    @Test func splitsDependOnTheShapeAndTileTheOutput() {
        for c in Self.cases {
            let split = GEMMSplit(m: c.m, n: c.n, k: c.k)
            #expect(split.parts > 1, "\(c) is meant to be split")
            #expect(split.alongColumns == (c.n >= c.m), "\(c)")
            var next = 0
            for part in 0..<split.parts {
                let range = split.range(part)
                #expect(range.lowerBound == next && !range.isEmpty && range.lowerBound % GEMMSplit.granule == 0, "\(c)")
                next = range.upperBound
            }
            #expect(next == (split.alongColumns ? c.n : c.m), "\(c)")
        }
        #expect(GEMMSplit(m: 64, n: 64, k: 64).parts == 1)  // 262 k multiply-adds: one call
        #expect(GEMMSplit(m: 3, n: 4_096, k: 1_568).alongColumns)  // too few rows to cut
    }

    @Test func splitProductsAreBitEqualAcrossThreadCountsAndMatchFloat64() {
        for c in Self.cases {
            let operands = Operands(c)
            var results: [[Float]] = []
            Self.withThreadCounts([1, 2, 3]) { _ in results.append(Self.product(c, operands)) }
            // Also from inside a task, where the parts run serially on one thread.
            var nested: [Float] = []
            Parallel.run(2) { i in if i == 0 { nested = Self.product(c, operands) } }
            results.append(nested)
            for (index, r) in results.enumerated().dropFirst() {
                #expect(r.map(\.bitPattern) == results[0].map(\.bitPattern), "\(c): run \(index) differs from 1 thread")
            }
            let (worst, scale) = Self.error(c, operands, results[0])
            // float32 accumulation over k terms: error below k · 2⁻²⁴ · Σ|terms| with room to spare.
            #expect(worst <= Double(c.k) * 0x1p-24 * scale, "\(c): max error \(worst), scale \(scale)")
            let padding = (0..<c.m).flatMap { i in (c.n..<operands.ldc).map { i * operands.ldc + $0 } }
            #expect(padding.allSatisfy { results[0][$0].bitPattern == operands.c[$0].bitPattern },
                    "\(c): wrote outside the n columns of a padded C")
        }
    }
}
