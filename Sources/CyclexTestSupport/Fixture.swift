import CyclexEngine
import Foundation

/// A PyTorch golden-value file (format: `Tests/Fixtures/README.md`): inputs, reference outputs, and
/// in its `fixture` metadata the `config` that rebuilds the computation and an absolute tolerance
/// per reference tensor.
///
/// Files come from `Tests/Fixtures/golden` in this repository, or from the folder named by
/// `CYCLEX_FIXTURES`, so the same tests run against any set generated with other shapes, widths,
/// depths and seeds. A missing or unreadable file throws, which fails the test: nothing skips.
public struct Fixture {
    /// The package root (three levels above this source file).
    public static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shared set beside the repository, used until the committed set `Tests/Fixtures/golden`
    /// is in the repository.
    public static let defaultRoot = projectRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")

    /// `$CYCLEX_FIXTURES` when set (relative paths are taken from the current directory), else
    /// `defaultRoot`.
    public static let root: URL = {
        guard let custom = ProcessInfo.processInfo.environment["CYCLEX_FIXTURES"], !custom.isEmpty else {
            return defaultRoot
        }
        return URL(fileURLWithPath: custom).standardizedFileURL
    }()

    /// Says where fixtures are looked for, for error messages.
    public static var rootDescription: String {
        ProcessInfo.processInfo.environment["CYCLEX_FIXTURES"].map { "CYCLEX_FIXTURES=\($0)" }
            ?? "the default \(defaultRoot.path) (set CYCLEX_FIXTURES=DIR for another set)"
    }

    /// The file's name below the root without extension, e.g. "ops/conv2d".
    public let name: String
    public let file: SafeTensorsFile
    /// The decoded `fixture` metadata: `config`, `atol`, `title`, `variant`, ...
    public let metadata: FixtureValue

    /// Opens `<root>/<name>.safetensors` (e.g. "ops/conv2d"). Throws a `FixtureError` naming the
    /// path when the file is missing, unreadable, or has no `fixture` metadata.
    public static func load(_ name: String) throws -> Fixture {
        let url = root.appendingPathComponent(name + ".safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FixtureError.missing(path: url.path, root: rootDescription)
        }
        return try load(contentsOf: url, name: name)
    }

    /// Opens a fixture file at an explicit location.
    public static func load(contentsOf url: URL, name: String) throws -> Fixture {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: url) } catch {
            throw FixtureError.unreadable(path: url.path, reason: "\(error)")
        }
        guard let text = file.metadata["fixture"],
              let json = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)), case .object = json
        else { throw FixtureError.unreadable(path: url.path, reason: "no JSON object `fixture` in the metadata") }
        return Fixture(name: name, file: file, metadata: FixtureValue(json, path: "", fixture: name))
    }

    /// Everything needed to rebuild the computation (shapes, widths, depths, hyper-parameters).
    public var config: FixtureValue { metadata["config"] }

    /// A tensor as stored, as a leaf that needs a gradient when asked.
    public func tensor(_ tensorName: String, requiresGradient: Bool = false) throws -> Tensor {
        let t = try wrap(tensorName) { try file.tensor(tensorName) }
        t.requiresGradient = requiresGradient
        return t
    }

    public func shape(_ tensorName: String) throws -> [Int] { try wrap(tensorName) { try file.entry(tensorName).shape } }

    public func dtype(_ tensorName: String) throws -> String { try wrap(tensorName) { try file.entry(tensorName).dtype } }

    public func floats(_ tensorName: String) throws -> (shape: [Int], values: [Float]) {
        (try shape(tensorName), try wrap(tensorName) { try file.floats(tensorName) })
    }

    public func doubles(_ tensorName: String) throws -> (shape: [Int], values: [Double]) {
        (try shape(tensorName), try wrap(tensorName) { try file.doubles(tensorName) })
    }

    public func uint8(_ tensorName: String) throws -> (shape: [Int], values: [UInt8]) {
        (try shape(tensorName), try wrap(tensorName) { try file.bytes(tensorName) })
    }

    public func int64s(_ tensorName: String) throws -> [Int64] { try wrap(tensorName) { try file.int64s(tensorName) } }

    public func contains(_ tensorName: String) -> Bool { file.contains(tensorName) }

    /// Names of the tensors starting with `prefix`, with the prefix removed (e.g. "param."), in
    /// file order.
    public func names(withPrefix prefix: String) -> [String] {
        file.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Runs `body`, turning a reader error into one that names this fixture and the tensor.
    private func wrap<T>(_ tensorName: String, _ body: () throws -> T) throws -> T {
        guard file.contains(tensorName) else {
            throw FixtureError.missingTensor(fixture: name, path: file.path, tensor: tensorName)
        }
        do { return try body() } catch {
            throw FixtureError.unreadable(path: file.path, reason: "tensor \(tensorName): \(error)")
        }
    }
}

/// Why a fixture could not be used; every case names the file.
public enum FixtureError: Error, CustomStringConvertible {
    case missing(path: String, root: String)
    case unreadable(path: String, reason: String)
    case missingTensor(fixture: String, path: String, tensor: String)
    case badMetadata(fixture: String, key: String, problem: String)

    public var description: String {
        switch self {
        case .missing(let path, let root): "fixture file not found: \(path) (fixtures from \(root))"
        case .unreadable(let path, let reason): "fixture file \(path) is unreadable: \(reason)"
        case .missingTensor(let fixture, let path, let tensor): "\(fixture): no tensor `\(tensor)` in \(path)"
        case .badMetadata(let fixture, let key, let problem): "\(fixture): metadata `\(key)` \(problem)"
        }
    }
}
