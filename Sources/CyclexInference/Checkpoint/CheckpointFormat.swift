import CyclexEngine
import CyclexNN
import Foundation

/// Problems with checkpoint files, naming the file.
public enum CheckpointError: LocalizedError {
    case notFound(path: String)
    case notACyclexCheckpoint(path: String, reason: String)
    case incompatible(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .notFound(path): return "\(path): no such checkpoint"
        case let .notACyclexCheckpoint(path, reason): return "\(path): not a cyclex checkpoint (\(reason))"
        case let .incompatible(path, reason): return "\(path): \(reason)"
        }
    }
}

/// What every cyclex checkpoint has, whoever wrote it (`cyclex train`, `cyclex import`):
/// a safetensors file whose header metadata holds `cyclex.format` ("1") and `cyclex.model`
/// (the `ModelConfiguration` as JSON), and whose tensors are stored as
/// `<network prefix>.<PyTorch state_dict name>` (e.g. `G_A.model.1.weight`). A generator-only
/// checkpoint holds just the two generators' tensors; a training checkpoint adds
/// discriminators, optimiser moments, pools, random streams and `cyclex.training` progress
/// (see `checkpoints/README.md`).
public enum CheckpointFormat {
    public static let formatKey = "cyclex.format", modelKey = "cyclex.model"
    public static let formatVersion = "1"

    /// A writer with the header entries every checkpoint carries.
    public static func writer(for configuration: ModelConfiguration) -> SafeTensorsWriter {
        var writer = SafeTensorsWriter()
        writer.metadata[formatKey] = formatVersion
        writer.metadata[modelKey] = configuration.jsonString()
        return writer
    }

    /// Opens `url` (memory-mapped: tensors are read only when asked for).
    public static func open(_ url: URL) throws -> SafeTensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else { throw CheckpointError.notFound(path: url.path) }
        return try SafeTensorsFile(contentsOf: url)
    }

    /// The model configuration stored in `file`, checked against `ModelConfiguration`'s bounds
    /// (nothing may be allocated from an unchecked header).
    public static func configuration(of file: SafeTensorsFile) throws -> ModelConfiguration {
        guard let json = file.metadata[modelKey] else {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "its header has no '\(modelKey)' entry")
        }
        let configuration: ModelConfiguration
        do { configuration = try JSONDecoder().decode(ModelConfiguration.self, from: Data(json.utf8)) } catch {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "unreadable model configuration: \(describe(error))")
        }
        if let problem = configuration.boundsProblem {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "model configuration out of range: \(problem)")
        }
        return configuration
    }

    /// Refuses `file` unless the tensors under each `prefix` hold at least `weights` values:
    /// checked before the networks are built, so a header cannot make cyclex allocate more than a
    /// small multiple of the file's own size.
    public static func requireWeights(_ weights: Int, under prefixes: [String], in file: SafeTensorsFile) throws {
        for prefix in prefixes {
            let held = file.entries.reduce(0) { $0 + ($1.key.hasPrefix(prefix + ".") ? $1.value.count : 0) }
            guard held >= weights else {
                throw CheckpointError.incompatible(
                    path: file.path,
                    reason: "network \(prefix) has \(held) values in the file, the model configuration needs at least \(weights)")
            }
        }
    }

    /// A decoding error in one line ("key 'imageSize' not found", "'kind': unknown value 'x'").
    public static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): return "field '\(key.stringValue)' is missing"
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
             let DecodingError.dataCorrupted(context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "'\(path)': ") + context.debugDescription
        default: return error.localizedDescription
        }
    }

    /// Adds every network's parameters and buffers under `<prefix>.<name>`.
    public static func add(_ networks: [(prefix: String, module: any Module)], to writer: inout SafeTensorsWriter) {
        for (prefix, module) in networks {
            for (name, tensor) in module.namedState { writer.add("\(prefix).\(name)", tensor) }
        }
    }

    /// Loads every network's parameters and buffers from `<prefix>.<name>`; all must be present
    /// with exactly the shapes the networks have. All-or-nothing: every tensor of every network
    /// is read and checked before the first one is copied.
    public static func load(_ networks: [(prefix: String, module: any Module)], from file: SafeTensorsFile) throws {
        var staged: [(module: any Module, values: [String: Tensor])] = []
        for (prefix, module) in networks {
            var values: [String: Tensor] = [:]
            for (name, target) in module.namedState {
                let key = "\(prefix).\(name)"
                guard let entry = file.entries[key] else {
                    throw CheckpointError.incompatible(path: file.path, reason: "tensor '\(key)' is missing")
                }
                guard entry.shape == target.shape else {
                    throw CheckpointError.incompatible(
                        path: file.path, reason: "tensor '\(key)' has shape \(entry.shape), the model expects \(target.shape)")
                }
                values[name] = try file.tensor(key)
            }
            staged.append((module, values))
        }
        for (module, values) in staged {
            do { try module.load { values[$0] } } catch let error as ModuleError {
                throw CheckpointError.incompatible(path: file.path, reason: error.localizedDescription)
            }
        }
    }
}
