import Foundation

/// Refusals that keep `translate` from destroying its own input.
public enum OutputSafetyError: LocalizedError, Equatable {
    case outputIsInput(output: String, input: String)
    case outputInsideInput(output: String, input: String)
    case exists(path: String)

    public var errorDescription: String? {
        switch self {
        case let .outputIsInput(output, input):
            return "\(output): is the input \(input) itself (after following links); choose another output"
        case let .outputInsideInput(output, input):
            return "\(output): is inside the input folder \(input); its translations would be read as inputs next time, choose an output outside it"
        case let .exists(path):
            return "\(path): already exists; pass --overwrite to replace it"
        }
    }
}

/// Path checks done before anything is written. Paths are compared after resolving symbolic
/// links (the nearest existing ancestor of a path that does not exist yet), and existing files
/// by device and inode, so `photo.png`, `./photo.png`, a link to it and a hard link are all the
/// same file.
public enum OutputSafety {
    /// Single-file mode: refuses an output that is the input, and an existing output unless
    /// `overwrite`.
    public static func checkFile(input: URL, output: URL, overwrite: Bool) throws {
        if let a = identity(input.path), let b = identity(output.path), a == b {
            throw OutputSafetyError.outputIsInput(output: output.path, input: input.path)
        }
        if !overwrite, FileManager.default.fileExists(atPath: output.path) || isLink(output.path) {
            throw OutputSafetyError.exists(path: output.path)
        }
    }

    /// Folder mode: refuses an output folder that is the input folder or lies inside it.
    public static func checkFolder(input: URL, output: URL) throws {
        if let a = identity(input.path), let b = identity(output.path), a == b {
            throw OutputSafetyError.outputIsInput(output: output.path, input: input.path)
        }
        let inputPath = resolved(input), outputPath = resolved(output)
        if outputPath == inputPath { throw OutputSafetyError.outputIsInput(output: output.path, input: input.path) }
        if outputPath.hasPrefix(inputPath.hasSuffix("/") ? inputPath : inputPath + "/") {
            throw OutputSafetyError.outputInsideInput(output: output.path, input: input.path)
        }
    }

    /// Device and inode of the file a path names (links followed); nil when it does not exist.
    static func identity(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }

    static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// The absolute path with links resolved: `realpath` of the nearest existing ancestor, then
    /// the remaining components.
    static func resolved(_ url: URL) -> String {
        var existing = url.standardizedFileURL
        var rest: [String] = []
        while existing.path != "/" {
            if let real = realpath(existing.path, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return rest.isEmpty ? base : (base == "/" ? "" : base) + "/" + rest.reversed().joined(separator: "/")
            }
            rest.append(existing.lastPathComponent)
            existing = existing.deletingLastPathComponent()
        }
        return "/" + rest.reversed().joined(separator: "/")
    }
}
