import CyclexEngine
import CyclexTestSupport
import Foundation
import Testing

/// The test suite's comparison helper and fixture tolerance rules, on values and a small fixture
/// file written here (so their verdicts are checked without recording any failure).
struct ComparisonTests {
    @Test func absoluteRelativeAndExact() {
        let reference: [Double] = [1, -2, 100, 0]
        let close = [1.000_05, -2.000_05, 100.000_05, 0.000_05]
        #expect(Comparison("a", actual: close, actualShape: [4], reference: reference, referenceShape: [4],
                           tolerance: .absolute(1e-4)).passed)
        let relative = [1.0, -2.0, 100.05, 0.0]
        #expect(!Comparison("r", actual: relative, actualShape: [4], reference: reference, referenceShape: [4],
                            tolerance: .absolute(1e-2)).passed)
        #expect(Comparison("r", actual: relative, actualShape: [4], reference: reference, referenceShape: [4],
                           tolerance: .relative(1e-3)).passed)
        #expect(!Comparison("e", actual: close, actualShape: [4], reference: reference, referenceShape: [4],
                            tolerance: .exact).passed)
        #expect(Comparison("e", actual: reference, actualShape: [4], reference: reference, referenceShape: [4],
                           tolerance: .exact).passed)
        let infinite = [Double.infinity, -1]
        #expect(Comparison("inf", actual: infinite, actualShape: [2], reference: infinite, referenceShape: [2],
                           tolerance: .exact).passed)
        let nan = Comparison("nan", actual: [.nan, -1], actualShape: [2], reference: infinite, referenceShape: [2],
                             tolerance: .absolute(1e9))
        #expect(!nan.passed && nan.maxDifference.isNaN && nan.mismatchCount == 1)
    }

    @Test func shapesMustMatchDimensionByDimension() {
        let values = [Double](repeating: 0, count: 6)
        let c = Comparison("s", actual: values, actualShape: [2, 3], reference: values, referenceShape: [6],
                           tolerance: .absolute(1))
        #expect(!c.passed && c.description == "s: shape [2, 3] but the reference is [6]")
        #expect(Comparison("s", actual: [1], actualShape: [], reference: [1], referenceShape: [],
                           tolerance: .exact).passed)
    }

    /// Mismatches are reported with their index per dimension, the largest difference and where.
    @Test func mismatchesAreLocated() {
        var actual = [Double](repeating: 0, count: 2 * 3 * 4)
        actual[1 * 12 + 2 * 4 + 3] = 0.5  // [1, 2, 3]
        actual[0 * 12 + 1 * 4 + 0] = 0.25  // [0, 1, 0]
        let c = Comparison("m", actual: actual, actualShape: [2, 3, 4], reference: .init(repeating: 0, count: 24),
                           referenceShape: [2, 3, 4], tolerance: .absolute(0.1))
        #expect(!c.passed && c.mismatchCount == 2)
        #expect(c.firstMismatches.map(\.index) == [[0, 1, 0], [1, 2, 3]])
        #expect(c.maxDifference == 0.5 && c.maxDifferenceIndex == [1, 2, 3])
        #expect(c.description.contains("max |diff| 0.5 at [1, 2, 3]") && c.description.contains("2 of 24 outside"))
        #expect(Comparison.index(23, in: [2, 3, 4]) == [1, 2, 3] && Comparison.index(0, in: []) == [])
    }

    /// Tolerances come from the file: `atol` per tensor, integers exact, `after.<net>.*` element-wise
    /// from `config.adam_check`; an input has none and asking for it throws.
    @Test func fixtureRules() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-comparison-\(UUID())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("steps"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var writer = SafeTensorsWriter()
        writer.add("x", floats: [1, 2], shape: [2])
        writer.add("y", floats: [3, 4], shape: [2])
        writer.add("argmax", int64s: [5], shape: [1])
        writer.add("grad.G.w", floats: [1e-3, 1e-9, -2e-3], shape: [3])
        writer.add("after.G.w", floats: [0.5, 0.5, 0.5], shape: [3])
        writer.metadata["fixture"] = """
            {"config": {"adam_check": {"G": {"lr": 0.0002, "tau": 1e-07}}, "n": 3, "flag": true, "one": 1},
             "atol": {"y": 0.01, "argmax": 0.0, "grad.G.w": 1e-06, "after.G.w": 1e-05}}
            """
        try writer.write(to: folder.appendingPathComponent("steps/rules.safetensors"))

        let f = try Fixture.load(contentsOf: folder.appendingPathComponent("steps/rules.safetensors"), name: "steps/rules")
        #expect(try f.tolerance(for: "y").absolute == 0.01)
        #expect(try f.compare([3.005, 4], shape: [2], with: "y").passed)
        #expect(!(try f.compare([3.02, 4], shape: [2], with: "y").passed))
        #expect(try f.tolerance(for: "argmax").description == "exact")
        let after = try f.tolerance(for: "after.G.w")
        #expect(after.perElement == [1e-5, 2.05 * 0.0002, 1e-5])
        #expect(try f.compare([0.5, 0.5003, 0.5], shape: [3], with: "after.G.w").passed)
        #expect(!(try f.compare([0.5003, 0.5, 0.5], shape: [3], with: "after.G.w").passed))
        #expect(throws: FixtureError.self) { try f.tolerance(for: "x") }
        #expect(throws: FixtureError.self) { try f.tensor("missing") }
        #expect(try f.config["n"].int() == 3 && f.config["flag"].bool() && f.config["one"].int() == 1)
        #expect(throws: FixtureError.self) { try f.config["one"].bool() }
        #expect(throws: FixtureError.self) { try f.config["flag"].int() }
        #expect(throws: FixtureError.self) { try f.config["absent"]["deeper"].int() }
    }
}
