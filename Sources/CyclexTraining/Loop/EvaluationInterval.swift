import Foundation

/// How often `cyclex train --eval-every` scores the held-out split: every N steps (`500`,
/// `500steps`) or every N epochs (`2e`, `2epochs`).
public enum EvaluationInterval: Codable, Equatable, Sendable, CustomStringConvertible {
    case steps(Int)
    case epochs(Int)

    /// Parses the flag's value; nil for anything else (zero, negative, unknown unit).
    public init?(_ text: String) {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        let digits = lower.prefix { $0.isNumber }
        guard let n = Int(digits), n > 0, n <= 1_000_000_000 else { return nil }
        switch lower.dropFirst(digits.count) {
        case "", "s", "step", "steps": self = .steps(n)
        case "e", "epoch", "epochs": self = .epochs(n)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case let .steps(n): return "every \(n) step\(n == 1 ? "" : "s")"
        case let .epochs(n): return "every \(n) epoch\(n == 1 ? "" : "s")"
        }
    }

    /// Whether an evaluation is due after global step `step` (mid-epoch check).
    public func isDue(afterStep step: Int) -> Bool {
        if case let .steps(n) = self { return step % n == 0 }
        return false
    }

    /// Whether an evaluation is due after finishing epoch `epoch` (1-based).
    public func isDue(afterEpoch epoch: Int) -> Bool {
        if case let .epochs(n) = self { return epoch % n == 0 }
        return false
    }
}
