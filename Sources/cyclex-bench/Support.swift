import CyclexEngine
import Dispatch
import Foundation

// MARK: - Timing

/// Monotonic nanoseconds.
@inline(__always) func nowNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Seconds taken by one call of `body`.
@inline(__always) func seconds(_ body: () -> Void) -> Double {
    let t0 = nowNanoseconds()
    body()
    return Double(nowNanoseconds() - t0) * 1e-9
}

/// CPU time of the whole process (all threads), in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Wall-clock and process CPU seconds of `body`.
func wallAndCPUSeconds(_ body: () -> Void) -> (wall: Double, cpu: Double) {
    let (t0, c0) = (nowNanoseconds(), processCPUSeconds())
    body()
    return (Double(nowNanoseconds() - t0) * 1e-9, processCPUSeconds() - c0)
}

/// Repetition times of one measurement, in seconds.
struct Timing {
    var times: [Double]
    var minimum: Double { times.min() ?? .nan }
    var median: Double {
        let s = times.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// Runs `warmup` untimed calls, then at least `minimumRepetitions` timed calls and keeps going
/// until `minimumSeconds` have been spent (capped at `maximumRepetitions`).
func measure(
    warmup: Int = 1, minimumRepetitions: Int = 5, minimumSeconds: Double = 0.3, maximumRepetitions: Int = 10_000,
    _ body: () -> Void
) -> Timing {
    for _ in 0..<warmup { body() }
    var times: [Double] = []
    var total = 0.0
    while times.count < minimumRepetitions || (total < minimumSeconds && times.count < maximumRepetitions) {
        let t = seconds(body)
        times.append(t)
        total += t
    }
    return Timing(times: times)
}

func median(_ xs: [Double]) -> Double { Timing(times: xs).median }

// MARK: - Formatting

func fmt(_ x: Double, _ decimals: Int = 1) -> String {
    guard x.isFinite else { return "-" }
    return String(format: "%.\(decimals)f", x)
}

/// "12.3 ms" / "1.23 s" / "45 µs".
func fmtTime(_ s: Double) -> String {
    guard s.isFinite else { return "-" }
    if s >= 1 { return String(format: "%.2f s", s) }
    if s >= 1e-3 { return String(format: s >= 0.1 ? "%.0f ms" : (s >= 0.01 ? "%.1f ms" : "%.2f ms"), s * 1e3) }
    return String(format: "%.0f µs", s * 1e6)
}

/// A plain-text table: first column left-aligned, the others right-aligned.
struct TextTable {
    let title: String
    let header: [String]
    var rows: [[String]] = []
    var notes: [String] = []

    init(_ title: String, _ header: [String]) { self.title = title; self.header = header }
    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let all = [header] + rows
        let widths = (0..<header.count).map { c in all.map { $0.count > c ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, s in
                let pad = String(repeating: " ", count: max(0, widths[c] - s.count))
                return c == 0 ? s + pad : pad + s
            }.joined(separator: "  ")
        }
        var out = "\n== \(title) ==\n" + line(header) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for r in rows { out += line(r) + "\n" }
        for n in notes { out += n + "\n" }
        return out
    }

    func print() { Swift.print(render(), terminator: ""); fflush(nil) }
}

/// Machine-readable results, written with `--json PATH`.
final class JSONLog {
    var sections: [String: [[String: Any]]] = [:]
    var meta: [String: Any] = [:]
    func add(_ section: String, _ row: [String: Any]) { sections[section, default: []].append(row) }

    func write(to path: String) {
        var root: [String: Any] = meta
        for (k, v) in sections { root[k] = v }
        let sanitized = Self.sanitize(root)
        if let data = try? JSONSerialization.data(withJSONObject: sanitized, options: [.prettyPrinted, .sortedKeys]) {
            _ = FileManager.default.createFile(atPath: path, contents: data)
        }
    }

    /// NaN and infinity are not JSON.
    static func sanitize(_ v: Any) -> Any {
        switch v {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let a as [Any]: return a.map(sanitize)
        case let m as [String: Any]: return m.mapValues(sanitize)
        default: return v
        }
    }
}

// MARK: - Machine state

/// The 1-minute load average (other engineers' builds share the 2 cores).
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// Resident set size high-water mark, MiB.
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// A tensor of uniform values in [-1, 1].
func randomTensor(_ shape: [Int], _ rng: inout RandomGenerator, requiresGradient: Bool = false) -> Tensor {
    let t = Tensor(randomUniform: shape, lowerBound: -1, upperBound: 1, using: &rng)
    t.requiresGradient = requiresGradient
    return t
}
