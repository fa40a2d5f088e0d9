import Foundation

/// The numbers of one run's `log.jsonl`, by name, as the report draws them.
///
/// Every line is a JSON object. Training lines hold `step`, `epoch`, `time` (Unix seconds) and one
/// number per loss term, λ or diagnostic (`null` for a non-finite value). Evaluation lines add
/// `"event": "eval"` and hold the scores of the held-out split at that step. Names are taken from
/// the log itself, so a new loss term or model needs no change here. Lines that are not JSON
/// objects with an integer `step` are counted in `skippedLines` and otherwise ignored (a log cut
/// short by a crash ends in half a line).
public struct RunHistory: Sendable {
    /// One logged value.
    public struct Point: Sendable, Equatable {
        public var step: Int
        public var epoch: Int
        /// Training time in seconds since the run's first line, with pauses between sessions
        /// (gaps over `RunHistory.pauseThreshold`) left out.
        public var trainingTime: Double
        public var value: Double
    }

    /// Training values by name, names in order of first appearance.
    public var training: [(name: String, points: [Point])] = []
    /// Evaluation scores by name (lines with `"event": "eval"`).
    public var evaluation: [(name: String, points: [Point])] = []
    /// Lines that could not be read.
    public var skippedLines = 0
    /// The last step logged (0 for an empty log).
    public var lastStep = 0
    /// The last epoch logged.
    public var lastEpoch = 0
    /// Training time of the last line, in seconds (see `Point.trainingTime`).
    public var trainingSeconds = 0.0

    /// Gaps between consecutive lines longer than this count as a pause (resume in a later session),
    /// not as training time.
    public static let pauseThreshold = 600.0
    /// Keys that place a value rather than name one.
    static let coordinateKeys: Set<String> = ["step", "epoch", "time", "event"]
    /// Largest log the report reads.
    public static let maximumBytes = 1 << 30

    public init() {}

    /// Reads `log.jsonl`; a missing file gives an empty history.
    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            self.init()
            return
        }
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maximumBytes else {
            throw ReportError.unreadable(path: url.path, reason: "\(size) bytes is larger than the report reads (\(Self.maximumBytes))")
        }
        let data = try Data(contentsOf: url)
        self.init(jsonLines: data)
    }

    /// Parses JSON-lines bytes (see the type's description).
    public init(jsonLines data: Data) {
        var trainingIndex: [String: Int] = [:], evaluationIndex: [String: Int] = [:]
        var previousTime: Double?
        var elapsed = 0.0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let stepValue = Self.number(object["step"]), stepValue >= 0, stepValue < 1e15,
                  stepValue == stepValue.rounded() else {
                skippedLines += 1
                continue
            }
            let step = Int(stepValue)
            let epoch = Self.number(object["epoch"]).flatMap { $0.isFinite && abs($0) < 1e15 ? Int($0) : nil } ?? 0
            if let time = Self.number(object["time"]), time.isFinite {
                if let previousTime {
                    let gap = time - previousTime
                    if gap > 0, gap < Self.pauseThreshold { elapsed += gap }
                }
                previousTime = time
            }
            let isEvaluation = (object["event"] as? String) == "eval"
            // Names keep the order of the line where they first appear (JSON objects are unordered).
            var keys = object.keys.filter { !Self.coordinateKeys.contains($0) }.sorted()
            if keys.contains(where: { (isEvaluation ? evaluationIndex[$0] : trainingIndex[$0]) == nil }) {
                let text = String(decoding: line, as: UTF8.self)
                func position(_ key: String) -> Int {
                    text.range(of: "\"\(key)\"").map { text.distance(from: text.startIndex, to: $0.lowerBound) } ?? Int.max
                }
                keys = keys.map { ($0, position($0)) }.sorted { $0.1 < $1.1 }.map(\.0)
            }
            for key in keys {
                guard let value = Self.number(object[key]), value.isFinite else { continue }
                let point = Point(step: step, epoch: epoch, trainingTime: elapsed, value: value)
                if isEvaluation {
                    Self.append(point, named: key, to: &evaluation, index: &evaluationIndex)
                } else {
                    Self.append(point, named: key, to: &training, index: &trainingIndex)
                }
            }
            lastStep = max(lastStep, step)
            lastEpoch = max(lastEpoch, epoch)
            trainingSeconds = elapsed
        }
    }

    /// A JSON number as Double (strings, arrays, objects, null: nil).
    static func number(_ any: Any?) -> Double? {
        switch any {
        case let v as Int: return Double(v)
        case let v as Double: return v
        case let v as NSNumber: return v.doubleValue
        default: return nil
        }
    }

    private static func append(_ point: Point, named name: String, to list: inout [(name: String, points: [Point])],
                               index: inout [String: Int]) {
        if let i = index[name] {
            list[i].points.append(point)
        } else {
            index[name] = list.count
            list.append((name, [point]))
        }
    }

    /// The chart a value belongs to: its name up to the first `_` (after any `prefix.`), so
    /// `G_A`, `G_B` and `G` share the chart "G", `lambda_D_A` and `lambda_Dm_B` the chart "lambda",
    /// `pass1.lambda_A` the chart "pass1.lambda".
    public static func group(of name: String) -> String {
        let dot = name.lastIndex(of: ".")
        let prefix = dot.map { String(name[...$0]) } ?? ""
        let base = dot.map { String(name[name.index(after: $0)...]) } ?? name
        let head = base.split(separator: "_", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? base
        return prefix + head
    }
}

/// Problems reading a run or writing the report, naming the file.
public enum ReportError: LocalizedError, Equatable {
    case unreadable(path: String, reason: String)
    case notARun(path: String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .notARun(path): return "\(path): not a cyclex run folder (no log.jsonl, options.json or samples/)"
        }
    }
}
