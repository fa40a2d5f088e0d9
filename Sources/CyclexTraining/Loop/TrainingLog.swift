import Foundation

/// JSON-lines log of every loss term per step (`log.jsonl` in the run folder), appended and
/// flushed each step so a crash loses at most the line being written. Which values are logged
/// and summarised is the recipe's `StepDeclaration`.
public final class TrainingLog {
    private let handle: FileHandle
    /// Per-epoch sums for the epoch summary: epoch → name → (sum, count).
    private var sums: [Int: [String: (Double, Int)]] = [:]
    private var order: [String] = []

    public init(url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Appends one line with `values` (name, value) in the given order; non-finite values are `null`.
    public func append(step: Int, epoch: Int, values: [(name: String, value: Float)], learningRate: Float) throws {
        var fields = ["\"step\":\(step)", "\"epoch\":\(epoch)", "\"time\":\(Date().timeIntervalSince1970)",
                      "\"lr\":\(learningRate)"]
        for (name, value) in values {
            fields.append("\"\(name)\":\(value.isFinite ? "\(value)" : "null")")
            if sums[epoch]?[name] == nil, !order.contains(name) { order.append(name) }
            let (s, n) = sums[epoch, default: [:]][name] ?? (0, 0)
            sums[epoch, default: [:]][name] = (s + Double(value), n + 1)
        }
        handle.write(Data(("{" + fields.joined(separator: ",") + "}\n").utf8))
    }

    /// One evaluation line: `"event": "eval"`, the step, epoch and time, and each score (names
    /// as given, e.g. `kid_a2b`, `l1_b2a_identity`; non-finite values as null).
    public func appendEvaluation(step: Int, epoch: Int, scores: [(name: String, value: Double)]) {
        var fields = ["\"event\":\"eval\"", "\"step\":\(step)", "\"epoch\":\(epoch)", "\"time\":\(Date().timeIntervalSince1970)"]
        for (name, value) in scores { fields.append("\"\(name)\":\(value.isFinite ? "\(value)" : "null")") }
        handle.write(Data(("{" + fields.joined(separator: ",") + "}\n").utf8))
    }

    /// Mean over the steps of `epoch` logged in this session of each of `names` that was logged,
    /// in the order values were first logged.
    public func epochMeans(_ epoch: Int, of names: [String]) -> [(name: String, value: Double)] {
        guard let table = sums[epoch] else { return [] }
        let wanted = Set(names)
        return order.filter(wanted.contains).compactMap { name in table[name].map { (name, $0.0 / Double(max($0.1, 1))) } }
    }
}
