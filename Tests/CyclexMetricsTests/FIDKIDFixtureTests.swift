import CyclexMetrics
import CyclexTestSupport
import Foundation
import Testing

/// FID and KID against `metrics/fid_kid` (numpy/scipy float64); shapes and subsets from the file.
@Suite(.enabled(if: Fixture.isAvailable, Comment(rawValue: Fixture.skipMessage)))
struct FIDKIDFixtureTests {
    func features(_ fixture: Fixture, _ name: String) throws -> FeatureMatrix {
        let (shape, values) = try fixture.floats(name)
        return FeatureMatrix(rows: shape[0], dimension: shape[1], values: values)
    }

    func indexRows(_ fixture: Fixture, _ name: String) throws -> [[Int]] {
        let shape = try fixture.file.entry(name).shape
        let flat = try fixture.file.int64s(name).map(Int.init)
        return (0..<shape[0]).map { Array(flat[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
    }

    func expectClose(_ value: Double, _ fixture: Fixture, _ name: String, index: Int? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try fixture.file.doubles(name)[index ?? 0]
        let atol = Double(fixture.atol(name))
        #expect(atol > 0, "no tolerance for \(name)", sourceLocation: sourceLocation)
        #expect(abs(value - reference) <= atol, "\(name)[\(index ?? 0)]: \(value) vs \(reference) (atol \(atol))",
                sourceLocation: sourceLocation)
    }

    @Test func statisticsFIDAndBootstrapMatch() throws {
        let fixture = try #require(try Fixture.load("metrics/fid_kid"))
        let a = try features(fixture, "features_a"), b = try features(fixture, "features_b")
        let sa = FeatureStatistics(a), sb = FeatureStatistics(b)
        for (stats, suffix) in [(sa, "a"), (sb, "b")] {
            let mu = try fixture.file.doubles("mu_\(suffix)"), sigma = try fixture.file.doubles("sigma_\(suffix)")
            let (muTol, sigmaTol) = (Double(fixture.atol("mu_\(suffix)")), Double(fixture.atol("sigma_\(suffix)")))
            #expect(zip(stats.mean, mu).map { abs($0 - $1) }.max()! <= muTol)
            #expect(zip(stats.covariance, sigma).map { abs($0 - $1) }.max()! <= sigmaTol)
        }
        try expectClose(try FrechetDistance.traceSquareRootOfProduct(sa.covariance, sb.covariance, size: sa.dimension),
                        fixture, "trace_covmean")
        try expectClose(try FrechetDistance.distance(sa, sb), fixture, "fid")
        let (ra, rb) = (try indexRows(fixture, "bootstrap_a"), try indexRows(fixture, "bootstrap_b"))
        var fids: [Double] = []
        for r in ra.indices {
            let fid = try FrechetDistance.distance(FeatureStatistics(a.selecting(rows: ra[r])), FeatureStatistics(b.selecting(rows: rb[r])))
            try expectClose(fid, fixture, "fid_bootstrap", index: r)
            fids.append(fid)
        }
        try expectClose(fids.reduce(0, +) / Double(fids.count), fixture, "fid_bootstrap_mean")
    }

    @Test func kidSubsetsMeanAndStdMatch() throws {
        let fixture = try #require(try Fixture.load("metrics/fid_kid"))
        let a = try features(fixture, "features_a"), b = try features(fixture, "features_b")
        let (ka, kb) = (try indexRows(fixture, "kid_subsets_a"), try indexRows(fixture, "kid_subsets_b"))
        var values: [Double] = []
        for s in ka.indices {
            let v = KernelInceptionDistance.mmd2(a, rows: ka[s], b, rows: kb[s])
            try expectClose(v, fixture, "kid_mmd2", index: s)
            values.append(v)
        }
        let (mean, std) = KernelInceptionDistance.meanAndStd(values)
        try expectClose(mean, fixture, "kid_mean")
        try expectClose(std, fixture, "kid_std")
    }

    @Test func fidOfASetWithItselfIsZero() throws {
        let fixture = try #require(try Fixture.load("metrics/fid_kid"))
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
