import CyclexEngine
import Foundation

/// A PyTorch golden-value file from `../shared/fixtures` (see its README): inputs, reference
/// outputs, and per-tensor absolute tolerances in the `fixture` metadata.
public struct Fixture {
    /// The project root (three levels above this source file).
    public static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/fixtures` relative to the project root, or `$CYCLEX_FIXTURES`.
    public static let root: URL = {
        if let custom = ProcessInfo.processInfo.environment["CYCLEX_FIXTURES"] { return URL(fileURLWithPath: custom) }
        return projectRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }()

    /// Whether the fixture folder exists; tests skip with `skipMessage` when it does not.
    public static var isAvailable: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("README.md").path) }
    public static let skipMessage = "PyTorch fixtures not found at ../shared/fixtures (set CYCLEX_FIXTURES to their folder)"

    /// `../shared/datasets` relative to the project root.
    public static let datasetsRoot = projectRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets")

    public let name: String
    public let file: SafeTensorsFile
    /// The decoded `fixture` metadata: `atol`, `config`, `title`, ...
    public let info: [String: Any]

    /// Opens `<root>/<name>.safetensors` (e.g. "ops/conv2d"); nil when fixtures are absent.
    /// A present but unreadable file is a test failure, so this throws.
    public static func load(_ name: String) throws -> Fixture? {
        guard isAvailable else { return nil }
        let url = root.appendingPathComponent(name + ".safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        let json = file.metadata["fixture"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        return Fixture(name: name, file: file, info: (json as? [String: Any]) ?? [:])
    }

    public var config: [String: Any] { (info["config"] as? [String: Any]) ?? [:] }

    /// The tolerance the README assigns to `tensor` (0 when the file lists none).
    public func atol(_ tensor: String) -> Float {
        guard let table = info["atol"] as? [String: Any], let v = table[tensor] else { return 0 }
        return Float((v as? NSNumber)?.doubleValue ?? 0)
    }

    public func tensor(_ tensorName: String, requiresGradient: Bool = false) throws -> Tensor {
        let t = try file.tensor(tensorName)
        t.requiresGradient = requiresGradient
        return t
    }

    public func floats(_ tensorName: String) throws -> (shape: [Int], values: [Float]) {
        (try file.entry(tensorName).shape, try file.floats(tensorName))
    }

    public func uint8(_ tensorName: String) throws -> (shape: [Int], values: [UInt8]) {
        (try file.entry(tensorName).shape, try file.bytes(tensorName))
    }

    public func int64s(_ tensorName: String) throws -> [Int64] { try file.int64s(tensorName) }

    public func contains(_ tensorName: String) -> Bool { file.contains(tensorName) }

    /// Names of the tensors starting with `prefix`, with the prefix removed (e.g. "param.").
    public func names(withPrefix prefix: String) -> [String] {
        file.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Compares `actual` with the reference tensor `tensorName` under its README tolerance
    /// (or `atol` when given).
    public func compare(_ actual: Tensor, with tensorName: String, atol: Float? = nil) throws -> Comparison {
        let reference = try file.floats(tensorName)
        let shape = try file.entry(tensorName).shape
        return Comparison(
            label: "\(name):\(tensorName)", actual: actual.scalars, actualShape: actual.shape,
            reference: reference, referenceShape: shape, atol: atol ?? self.atol(tensorName))
    }
}

/// The outcome of an elementwise comparison, printing the first mismatches and the worst error.
public struct Comparison: CustomStringConvertible {
    public let label: String
    public let passed: Bool
    public let maxDifference: Float
    public let atol: Float
    public let mismatches: [(index: Int, actual: Float, reference: Float)]
    public let shapeProblem: String?

    public init(label: String, actual: [Float], actualShape: [Int], reference: [Float], referenceShape: [Int],
                atol: Float, perElementTolerance: [Float]? = nil) {
        self.label = label
        self.atol = atol
        if actual.count != reference.count || actualShape.reduce(1, *) != referenceShape.reduce(1, *) {
            shapeProblem = "shape \(actualShape) vs reference \(referenceShape)"
            passed = false; maxDifference = .infinity; mismatches = []
            return
        }
        shapeProblem = nil
        var worst: Float = 0
        var bad: [(Int, Float, Float)] = []
        for i in 0..<actual.count {
            let d = abs(actual[i] - reference[i])
            let tolerance = perElementTolerance?[i] ?? atol
            if !(d <= tolerance) {
                if bad.count < 5 { bad.append((i, actual[i], reference[i])) }
            }
            if d > worst || d.isNaN { worst = d.isNaN ? .nan : d }
        }
        maxDifference = worst
        mismatches = bad
        passed = bad.isEmpty && !worst.isNaN
    }

    public var description: String {
        if let shapeProblem { return "\(label): \(shapeProblem)" }
        let first = mismatches.map { "[\($0.index)] \($0.actual) vs \($0.reference)" }.joined(separator: ", ")
        return "\(label): max |diff| \(maxDifference) (atol \(atol))" + (passed ? "" : "; first mismatches: \(first)")
    }
}
