import CyclexEngine
import Foundation

/// Problems writing the log, naming the file.
public enum TrainingLogError: LocalizedError {
    case unwritable(path: String, reason: String)
    case unreadable(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unwritable(path, reason): return "\(path): cannot write the training log: \(reason)"
        case let .unreadable(path, reason): return "\(path): cannot read the training log: \(reason)"
        }
    }
}

/// JSON-lines log of every loss term per step (`log.jsonl` in the run folder). Which values are
/// logged and summarised is the recipe's `StepDeclaration`.
///
/// Whole lines only: each line goes out in one `write` on an `O_APPEND` descriptor, and a write
/// that fails part-way (a full disk) is cut back to the last complete line before the error
/// (naming the file) is thrown. Opening for a resumed run keeps exactly the lines of steps up to
/// the checkpoint's step, so steps redone after a resume are not logged twice, and drops a
/// partial last line left by a kill.
public final class TrainingLog {
    public let url: URL
    private var descriptor: Int32
    /// Per-epoch sums for the epoch summary: epoch → name → (sum, count).
    private var sums: [Int: [String: (Double, Int)]] = [:]
    private var order: [String] = []

    /// Opens (creating) the log at `url`, keeping only the complete lines of steps
    /// `<= keepingStepsThrough` (0 for a new run: the log is emptied; by default every complete line).
    public init(url: URL, keepingStepsThrough lastStep: Int = .max) throws {
        self.url = url
        var info = stat()
        if stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {  // not a device or pipe
            let existing: Data
            do { existing = try Data(contentsOf: url) } catch {
                throw TrainingLogError.unreadable(path: url.path, reason: error.localizedDescription)
            }
            let kept = Self.lines(of: existing, throughStep: lastStep)
            if kept.count != existing.count {
                do { try AtomicFile.write(kept, to: url) } catch {
                    throw TrainingLogError.unwritable(path: url.path, reason: "\(error.localizedDescription)")
                }
            }
        }
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw TrainingLogError.unwritable(path: url.path, reason: String(cString: strerror(errno))) }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The complete lines of `data` whose `"step"` is at most `lastStep`, in order.
    static func lines(of data: Data, throughStep lastStep: Int) -> Data {
        var kept = Data()
        guard lastStep > 0 else { return kept }
        var start = data.startIndex
        while let newline = data[start...].firstIndex(of: 0x0A) {
            let line = data[start..<newline]
            start = data.index(after: newline)
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let step = (object["step"] as? NSNumber)?.intValue, step <= lastStep
            else { continue }
            kept.append(line)
            kept.append(0x0A)
        }
        return kept  // a last line without its newline was cut by a kill: dropped
    }

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
        try write(line: "{" + fields.joined(separator: ",") + "}\n")
    }

    /// Appends one complete line or nothing: on a short or failed write the file is cut back to
    /// where it was.
    public func write(line: String) throws {
        let before = lseek(descriptor, 0, SEEK_END)
        var failure: String?
        Array(line.utf8).withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let r = Foundation.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { failure = r < 0 ? String(cString: strerror(errno)) : "no space written"; return }
                written += r
            }
        }
        if let failure {
            if before >= 0 { _ = ftruncate(descriptor, before) }
            throw TrainingLogError.unwritable(path: url.path, reason: failure)
        }
    }

    /// One evaluation line: `"event": "eval"`, the step, epoch and time, and each score (names
    /// as given, e.g. `kid_a2b`, `l1_b2a_identity`; non-finite values as null).
    public func appendEvaluation(step: Int, epoch: Int, scores: [(name: String, value: Double)]) throws {
        var fields = ["\"event\":\"eval\"", "\"step\":\(step)", "\"epoch\":\(epoch)", "\"time\":\(Date().timeIntervalSince1970)"]
        for (name, value) in scores { fields.append("\"\(name)\":\(value.isFinite ? "\(value)" : "null")") }
        try write(line: "{" + fields.joined(separator: ",") + "}\n")
    }

    /// Mean over the steps of `epoch` logged in this session of each of `names` that was logged,
    /// in the order values were first logged.
    public func epochMeans(_ epoch: Int, of names: [String]) -> [(name: String, value: Double)] {
        guard let table = sums[epoch] else { return [] }
        let wanted = Set(names)
        return order.filter(wanted.contains).compactMap { name in table[name].map { (name, $0.0 / Double(max($0.1, 1))) } }
    }
}
