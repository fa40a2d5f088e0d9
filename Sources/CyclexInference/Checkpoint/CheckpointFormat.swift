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

    /// The model configuration stored in `file`.
    public static func configuration(of file: SafeTensorsFile) throws -> ModelConfiguration {
        guard let json = file.metadata[modelKey] else {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "its header has no '\(modelKey)' entry")
        }
        do { return try JSONDecoder().decode(ModelConfiguration.self, from: Data(json.utf8)) } catch {
            throw CheckpointError.notACyclexCheckpoint(path: file.path, reason: "unreadable model configuration: \(error)")
        }
    }

    /// Adds every network's parameters and buffers under `<prefix>.<name>`.
    public static func add(_ networks: [(prefix: String, module: any Module)], to writer: inout SafeTensorsWriter) {
        for (prefix, module) in networks {
            for (name, tensor) in module.namedState { writer.add("\(prefix).\(name)", tensor) }
        }
    }

    /// Loads every network's parameters and buffers from `<prefix>.<name>`; all must be present.
    public static func load(_ networks: [(prefix: String, module: any Module)], from file: SafeTensorsFile) throws {
        for (prefix, module) in networks {
            do {
                try module.load { name in
                    file.contains("\(prefix).\(name)") ? try file.tensor("\(prefix).\(name)") : nil
                }
            } catch let error as ModuleError {
                throw CheckpointError.incompatible(path: file.path, reason: "network \(prefix): \(error.localizedDescription)")
            }
        }
    }
}
