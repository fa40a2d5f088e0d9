import CyclexMetrics
import CyclexTestSupport
import Foundation
import Testing

/// FID and KID against `metrics/fid_kid` (numpy/scipy float64); shapes and subsets from the file,
/// tolerances from its `atol` (the `metric` rule).
struct FIDKIDFixtureTests {
    func features(_ fixture: Fixture, _ name: String) throws -> FeatureMatrix {
        let (shape, values) = try fixture.floats(name)
        return FeatureMatrix(rows: shape[0], dimension: shape[1], values: values)
    }

    func indexRows(_ fixture: Fixture, _ name: String) throws -> [[Int]] {
        let shape = try fixture.shape(name)
        let flat = try fixture.int64s(name).map(Int.init)
        return (0..<shape[0]).map { Array(flat[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
    }

    @Test func statisticsFIDAndBootstrapMatch() throws {
        let fixture = try Fixture.load("metrics/fid_kid")
        let a = try features(fixture, "features_a"), b = try features(fixture, "features_b")
        let sa = FeatureStatistics(a), sb = FeatureStatistics(b)
        for (stats, suffix) in [(sa, "a"), (sb, "b")] {
            try fixture.expectMatch(stats.mean, shape: [stats.dimension], "mu_\(suffix)")
            try fixture.expectMatch(stats.covariance, shape: [stats.dimension, stats.dimension], "sigma_\(suffix)")
        }
        try fixture.expectMatch(try FrechetDistance.traceSquareRootOfProduct(sa.covariance, sb.covariance, size: sa.dimension),
                                "trace_covmean")
        try fixture.expectMatch(try FrechetDistance.distance(sa, sb), "fid")
        let (ra, rb) = (try indexRows(fixture, "bootstrap_a"), try indexRows(fixture, "bootstrap_b"))
        let fids = try ra.indices.map { r in
            try FrechetDistance.distance(FeatureStatistics(a.selecting(rows: ra[r])), FeatureStatistics(b.selecting(rows: rb[r])))
        }
        try fixture.expectMatch(fids, shape: [fids.count], "fid_bootstrap")
        try fixture.expectMatch(fids.reduce(0, +) / Double(fids.count), "fid_bootstrap_mean")
    }

    @Test func kidSubsetsMeanAndStdMatch() throws {
        let fixture = try Fixture.load("metrics/fid_kid")
        let a = try features(fixture, "features_a"), b = try features(fixture, "features_b")
        let (ka, kb) = (try indexRows(fixture, "kid_subsets_a"), try indexRows(fixture, "kid_subsets_b"))
        let values = ka.indices.map { s in KernelInceptionDistance.mmd2(a, rows: ka[s], b, rows: kb[s]) }
        try fixture.expectMatch(values, shape: [values.count], "kid_mmd2")
        let (mean, std) = KernelInceptionDistance.meanAndStd(values)
        try fixture.expectMatch(mean, "kid_mean")
        try fixture.expectMatch(std, "kid_std")
    }

    @Test func fidOfASetWithItselfIsZero() throws {
        let fixture = try Fixture.load("metrics/fid_kid")
        let a = try features(fixture, "features_a")
        let fid = try FrechetDistance.distance(FeatureStatistics(a), FeatureStatistics(a))
        #expect(abs(fid) <= 1e-6, "FID(X, X) = \(fid)")
    }
}

/// Known answers that need no fixture.
struct MetricKnownAnswerTests {
    @Test func fidOfShiftedDiagonalGaussians() throws {
        // Σa = diag(1, 4), Σb = diag(4, 9), means differ by (1, 2): FID = 5 + 5 + 13 − 2 (2 + 6) = 7.
        let a = FeatureStatistics(count: 10, mean: [0, 0], covariance: [1, 0, 0, 4])
        let b = FeatureStatistics(count: 10, mean: [1, 2], covariance: [4, 0, 0, 9])
        #expect(abs(try FrechetDistance.distance(a, b) - 7) < 1e-12)
    }

    @Test func kidScoreIsReproducibleAndSmallForOneDistribution() {
        var state: UInt64 = 1
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        let x = FeatureMatrix(rows: 60, dimension: 8, values: (0..<480).map { _ in next() })
        let y = FeatureMatrix(rows: 60, dimension: 8, values: (0..<480).map { _ in next() })
        let shifted = FeatureMatrix(rows: 60, dimension: 8, values: y.values.map { $0 + 1 })
        let same = KernelInceptionDistance.score(x, y, subsets: 20)
        #expect(same == KernelInceptionDistance.score(x, y, subsets: 20))
        let different = KernelInceptionDistance.score(x, shifted, subsets: 20)
        #expect(abs(same.mean) < 3 * same.std + 1e-3)
        #expect(different.mean > 10 * abs(same.mean) && different.mean > 0.5)
    }
}
