import CyclexEngine
import Foundation

/// Problems with a run folder, each naming the path.
public enum RunDirectoryError: LocalizedError, Equatable {
    case invalidName(String)
    case notAFolder(path: String)
    case cannotCreate(path: String, reason: String)
    case inUse(path: String, holder: String)

    public var errorDescription: String? {
        switch self {
        case let .invalidName(name):
            return "run name '\(name)' must be a single folder name (not empty, no '/', not '.' or '..')"
        case let .notAFolder(path): return "\(path): is a file, expected a folder for training runs"
        case let .cannotCreate(path, reason): return "\(path): cannot create the run folder: \(reason)"
        case let .inUse(path, holder):
            return "\(path): another trainer is using this run (\(holder)); wait for it to finish or use --name for a new run"
        }
    }
}

/// The folder of one training run (`<output>/<name>/`), held by one trainer at a time.
///
/// Opening it checks the name (one path component, so `--name ../../x` cannot leave
/// `--output`), creates the folder, takes an exclusive `flock` on `<run>/.lock` (released by
/// the kernel when the process ends, however it ends; a second trainer on the same run stops
/// with `inUse`), and removes the temporary files of writes that were killed
/// (`.<name>.tmp-<pid>` of processes no longer alive). When a run that this session created
/// fails before its first checkpoint, `discardIfUnused()` removes the folder again, so no empty
/// run is left for `translate` to pick.
public final class RunDirectory {
    public let url: URL
    /// Whether this session created the folder.
    public let created: Bool
    /// Temporary files of killed writes found and removed on opening (paths relative to `url`).
    public private(set) var removedLeftovers: [String] = []
    private var lock: Int32

    public static let lockName = ".lock"

    /// Whether `name` names one entry inside a folder.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }

    public init(output: URL, name: String) throws {
        guard Self.isValidName(name) else { throw RunDirectoryError.invalidName(name) }
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        if manager.fileExists(atPath: output.path, isDirectory: &isFolder), !isFolder.boolValue {
            throw RunDirectoryError.notAFolder(path: output.path)
        }
        url = output.appendingPathComponent(name)
        if manager.fileExists(atPath: url.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw RunDirectoryError.notAFolder(path: url.path) }
            created = false
        } else {
            created = true
        }
        for folder in [url, url.appendingPathComponent("samples")] where mkdir(folder.path, 0o755) != 0 && errno != EEXIST {
            guard errno == ENOENT else { throw RunDirectoryError.cannotCreate(path: folder.path, reason: String(cString: strerror(errno))) }
            do { try manager.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw RunDirectoryError.cannotCreate(path: folder.path, reason: Self.reason(error))
            }
        }
        let lockPath = url.appendingPathComponent(Self.lockName).path
        lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else {
            throw RunDirectoryError.cannotCreate(path: lockPath, reason: String(cString: strerror(errno)))
        }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(lock)
            lock = -1
            throw RunDirectoryError.inUse(path: url.path, holder: holder.map { "process \($0)" } ?? "process unknown")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(lock, 0)
        _ = pid.withCString { pwrite(lock, $0, strlen($0), 0) }
        removedLeftovers = Self.removeLeftovers(in: url)
    }

    deinit { release() }

    /// Releases the lock (also done when the object goes away or the process ends).
    public func release() {
        if lock >= 0 {
            flock(lock, LOCK_UN)
            close(lock)
            lock = -1
        }
    }

    /// After a failed run: when this session created the folder and no checkpoint was written,
    /// removes what the session put there (options, log, empty samples, lock) and the folder.
    /// Files it does not know are left alone, and so is the folder then.
    public func discardIfUnused(checkpointName: String = "latest.safetensors") {
        guard created, !FileManager.default.fileExists(atPath: url.appendingPathComponent(checkpointName).path) else { return }
        release()
        for name in ["options.json", "log.jsonl", Self.lockName] {
            unlink(url.appendingPathComponent(name).path)
        }
        rmdir(url.appendingPathComponent("samples").path)
        rmdir(url.path)
    }

    /// Removes `.<name>.tmp-<pid>` files (what `AtomicFile` writes before its rename) of processes
    /// that no longer run, in `folder` and its `samples/`; returns their relative paths.
    static func removeLeftovers(in folder: URL) -> [String] {
        let top = AtomicFile.removeAbandonedTemporaries(in: folder)
        let samples = AtomicFile.removeAbandonedTemporaries(in: folder.appendingPathComponent("samples"))
        return (top + samples.map { "samples/\($0)" }).sorted()
    }

    static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}
