import CyclexEngine
import Foundation

/// One row-major sgemm shape, C[M×N] = op(A)·op(B) with inner size K.
struct GemmShape {
    let name: String
    let m: Int, n: Int, k: Int
    var transposeA = false, transposeB = false
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    var op: String { (transposeA ? "T" : "N") + (transposeB ? "T" : "N") }
}

/// Operand buffers for one shape (allocated once, random contents).
final class GemmBuffers {
    let shape: GemmShape
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>

    init(_ shape: GemmShape) {
        self.shape = shape
        a = .allocate(capacity: shape.m * shape.k)
        b = .allocate(capacity: shape.k * shape.n)
        c = .allocate(capacity: shape.m * shape.n)
        var rng = RandomGenerator(seed: 7)
        for i in 0..<(shape.m * shape.k) { a[i] = rng.nextUniformFloat() - 0.5 }
        for i in 0..<(shape.k * shape.n) { b[i] = rng.nextUniformFloat() - 0.5 }
        c.update(repeating: 0, count: shape.m * shape.n)
    }

    deinit { a.deallocate(); b.deallocate(); c.deallocate() }

    func run() {
        let s = shape
        BLAS.sgemm(transposeA: s.transposeA, transposeB: s.transposeB, m: s.m, n: s.n, k: s.k,
                   a: a, lda: s.transposeA ? s.m : s.k, b: b, ldb: s.transposeB ? s.k : s.n, c: c, ldc: s.n)
    }
}

/// The shapes printed in the calibration table (RESULTS §1 rows, docs/benchmarks.md#1-sgemm-calibration).
let calibrationShapes: [GemmShape] = [
    GemmShape(name: "square 1024³", m: 1024, n: 1024, k: 1024),
    GemmShape(name: "im2col 3×3 64ch @128 (target conv fwd)", m: 64, n: 16384, k: 576),
    GemmShape(name: "im2col 3×3 128ch @64", m: 128, n: 4096, k: 1152),
    GemmShape(name: "im2col 3×3 256ch @64 (ResNet block)", m: 256, n: 4096, k: 2304),
]

/// Median and best sgemm GFLOP/s per (shape, threads).
struct CalibrationResult {
    var rows: [(shape: GemmShape, threads: Int, median: Double, best: Double)] = []

    func gflops(_ name: String, threads: Int) -> Double {
        rows.first { $0.shape.name == name && $0.threads == threads }?.median ?? .nan
    }
    /// The reference rate: 2-thread 1024³ median.
    var reference: Double { gflops(calibrationShapes[0].name, threads: 2) }
}

func runCalibration(quick: Bool) -> CalibrationResult {
    var result = CalibrationResult()
    let buffers = calibrationShapes.map(GemmBuffers.init)
    for threads in [1, 2] {
        BLAS.setThreadCount(threads)
        for buf in buffers {
            let t = measure(warmup: 2, minimumRepetitions: quick ? 5 : 9, minimumSeconds: quick ? 0.15 : 0.5) { buf.run() }
            result.rows.append((buf.shape, threads, buf.shape.flops / t.median / 1e9, buf.shape.flops / t.minimum / 1e9))
        }
    }
    BLAS.setThreadCount(2)
    return result
}

/// RESULTS §1 (docs/benchmarks.md#1-sgemm-calibration), medians (best), for the calibration shapes.
let torchSgemmReference: [String: (oneThread: String, twoThreads: String)] = [
    "square 1024³": ("83.4 (91.0)", "183.0 (186.9)"),
    "im2col 3×3 64ch @128 (target conv fwd)": ("77.1 (78.3)", "137.9 (154.0)"),
    "im2col 3×3 128ch @64": ("83.1 (86.1)", "167.1 (172.6)"),
    "im2col 3×3 256ch @64 (ResNet block)": ("89.2 (90.1)", "174.2 (180.7)"),
]

func printCalibration(_ before: CalibrationResult, after: CalibrationResult?, log: JSONLog) {
    var table = TextTable(
        "1. Calibration: OpenBLAS sgemm in this process, GFLOP/s median (best)" + (after == nil ? " — before" : ""),
        ["shape", "M", "N", "K", "1T before", "2T before"] + (after != nil ? ["1T after", "2T after"] : [])
            + ["RESULTS 1T", "RESULTS 2T"])
    for shape in calibrationShapes {
        func cell(_ c: CalibrationResult, _ t: Int) -> String {
            guard let r = c.rows.first(where: { $0.shape.name == shape.name && $0.threads == t }) else { return "-" }
            return "\(fmt(r.median)) (\(fmt(r.best)))"
        }
        var row = [shape.name, "\(shape.m)", "\(shape.n)", "\(shape.k)", cell(before, 1), cell(before, 2)]
        if let after { row += [cell(after, 1), cell(after, 2)] }
        let ref = torchSgemmReference[shape.name]
        row += [ref?.oneThread ?? "-", ref?.twoThreads ?? "-"]
        table.add(row)
    }
    table.notes.append("Reference rate for the \"% sgemm\" columns below: 2-thread 1024³ median before the run = \(fmt(before.reference)) GFLOP/s.")
    table.notes.append("Quiet machine: ~91 (1T) / ~180 (2T). A 2T value far below that means the VM was sharing its cores.")
    table.print()
    for (label, c) in [("before", before)] + (after.map { [("after", $0)] } ?? []) {
        for r in c.rows {
            log.add("calibration", ["when": label, "shape": r.shape.name, "m": r.shape.m, "n": r.shape.n, "k": r.shape.k,
                                    "threads": r.threads, "gflops_median": r.median, "gflops_best": r.best])
        }
    }
}
