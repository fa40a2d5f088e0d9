import Foundation

/// Crash-safe file replacement: the one way cyclex writes a file that a reader (a resumed run,
/// a batch that skips existing outputs, PyTorch) must never see half-written — checkpoints,
/// options, translated images, sample grids.
///
/// The content is produced into a hidden temporary sibling (`.<name>.tmp-<pid>`), fsynced,
/// renamed over the target, and the folder is fsynced, so readers see the old file or the new
/// one, never a partial one. Producers that can only write to a path (the libpng/libjpeg
/// encoders) get the temporary path; byte buffers use `write(_:to:)`.
public enum AtomicFile {
    /// Writes `data` to `url` atomically.
    /// - Throws: `SafeTensorsError.unwritable` naming `url` and the system's reason.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { temporary in
            let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw SafeTensorsError.unwritable(path: url.path, reason: String(cString: strerror(errno))) }
            defer { close(fd) }
            var failure: String?
            data.withUnsafeBytes { raw in
                var written = 0
                while written < raw.count {
                    let r = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
                    if r <= 0 { failure = String(cString: strerror(errno)); return }
                    written += r
                }
            }
            if let failure { throw SafeTensorsError.unwritable(path: url.path, reason: failure) }
        }
    }

    /// Calls `produce` with a temporary path in `url`'s folder (created when missing), then
    /// fsyncs that file and renames it over `url`. When `produce` throws, its error is rethrown
    /// unchanged and the temporary file is removed.
    /// - Throws: `produce`'s error, or `SafeTensorsError.unwritable` naming `url` when the
    ///   fsync or rename fails.
    public static func write(to url: URL, using produce: (_ temporary: URL) throws -> Void) throws {
        let folder = url.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try produce(temporary)
        } catch {
            unlink(temporary.path)
            throw error
        }
        let fd = open(temporary.path, O_RDONLY)
        let synced = fd >= 0 && fsync(fd) == 0
        let reason = synced ? "" : String(cString: strerror(errno))
        if fd >= 0 { close(fd) }
        guard synced else {
            unlink(temporary.path)
            throw SafeTensorsError.unwritable(path: url.path, reason: reason)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SafeTensorsError.unwritable(path: url.path, reason: reason)
        }
        let dir = open(folder.path, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
    }
}

extension AtomicFile {
    /// Removes the temporary files (`.<name>.tmp-<pid>`) that writes of processes no longer
    /// running left in `folder` when they were killed before their rename; returns the removed
    /// file names, sorted. Files of live processes are kept: a concurrent writer (another shard
    /// of a translation, say) may still be producing them.
    @discardableResult
    public static func removeAbandonedTemporaries(in folder: URL) -> [String] {
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            guard name.hasPrefix("."), let range = name.range(of: ".tmp-", options: .backwards),
                  let pid = Int32(name[range.upperBound...]), !processIsAlive(pid)
            else { continue }
            if unlink(folder.appendingPathComponent(name).path) == 0 { removed.append(name) }
        }
        return removed.sorted()
    }

    /// Whether a process with this id exists (a signal-0 probe; EPERM means it exists).
    static func processIsAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}
