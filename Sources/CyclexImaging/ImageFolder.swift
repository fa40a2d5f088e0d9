import Foundation

/// The image files under a folder, found recursively and sorted by path (the CycleGAN reference's
/// `sorted(make_dataset(dir))`). Symbolic links are followed, each real folder listed once (link
/// cycles end). Hidden files and folders (names starting with ".") are skipped, and
/// so are files whose extension is not an image's. Files with the extension of an image format
/// cyclex cannot read (GIF, BMP, TIFF, WebP, …) are listed in `unsupportedFiles` so callers can warn.
public struct ImageFolder: Sendable, Equatable {
    /// Extensions that are read (the content is still sniffed when decoding).
    public static let readableExtensions: Set<String> = ["png", "jpg", "jpeg"]
    /// Image extensions that are recognised but not readable.
    public static let unsupportedExtensions: Set<String> = [
        "bmp", "gif", "tif", "tiff", "webp", "ppm", "pgm", "pbm", "heic", "heif", "avif", "jp2", "jxl",
    ]

    public let root: URL
    /// Readable image files, sorted by path (Unicode scalar order, as Python sorts).
    public let files: [URL]
    /// Image files in formats cyclex does not read.
    public let unsupportedFiles: [URL]

    /// Lists `root`.
    /// - Throws: `ImageError.missingFolder`, `.notAFolder`, or `.emptyFolder` (which also names any
    ///   unsupported images found, so "your GIFs are not read" is visible).
    public init(_ root: URL) throws {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw ImageError.missingFolder(path: root.path)
        }
        guard isDirectory.boolValue else { throw ImageError.notAFolder(path: root.path) }
        var files: [URL] = [], unsupported: [URL] = []
        try Self.collect(root, fileManager: fileManager, files: &files, unsupported: &unsupported)
        func byPath(_ a: URL, _ b: URL) -> Bool { a.path.unicodeScalars.lexicographicallyPrecedes(b.path.unicodeScalars) }
        self.root = root
        self.files = files.sorted(by: byPath)
        self.unsupportedFiles = unsupported.sorted(by: byPath)
        if self.files.isEmpty {
            let detail = unsupported.isEmpty
                ? "looked for .png, .jpg and .jpeg files, recursively"
                : "\(unsupported.count) file(s) in unsupported formats such as \(unsupported[0].lastPathComponent); "
                    + "cyclex reads PNG and JPEG"
            throw ImageError.emptyFolder(path: root.path, detail: detail)
        }
    }

    public var count: Int { files.count }

    /// Paths relative to `root` (for messages and reports).
    public func relativePath(of url: URL) -> String {
        let base = root.standardizedFileURL.path, path = url.standardizedFileURL.path
        return path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
    }

    /// A folder's identity after following links: two paths name the same folder exactly when
    /// their device and inode numbers agree.
    private struct FolderIdentity: Hashable { let device: UInt64, inode: UInt64 }

    private static func identity(of path: String) -> (FolderIdentity, isFolder: Bool)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }  // dangling link, vanished file
        return (FolderIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), (info.st_mode & S_IFMT) == S_IFDIR)
    }

    /// Lists every real folder once: symbolic links are followed, but a folder already visited (a
    /// link to an ancestor, or two links to one folder) is not entered again, so link cycles end.
    private static func collect(_ root: URL, fileManager: FileManager, files: inout [URL], unsupported: inout [URL]) throws {
        var visited: Set<FolderIdentity> = []
        if let (id, _) = identity(of: root.path) { visited.insert(id) }
        try collect(root, fileManager: fileManager, files: &files, unsupported: &unsupported, visited: &visited, depth: 0)
    }

    private static func collect(
        _ folder: URL, fileManager: FileManager, files: inout [URL], unsupported: inout [URL],
        visited: inout Set<FolderIdentity>, depth: Int
    ) throws {
        guard depth < 256 else { return }  // bounds the recursion even on exotic file systems
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw ImageError.cannotOpen(path: folder.path, reason: "cannot list folder: \(error.localizedDescription)")
        }
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            guard let (id, isFolder) = identity(of: url.path) else { continue }
            if isFolder {
                guard visited.insert(id).inserted else { continue }  // a link cycle or a second link
                try collect(url, fileManager: fileManager, files: &files, unsupported: &unsupported, visited: &visited,
                            depth: depth + 1)
                continue
            }
            let ext = url.pathExtension.lowercased()
            if readableExtensions.contains(ext) {
                files.append(url)
            } else if unsupportedExtensions.contains(ext) {
                unsupported.append(url)
            }
        }
    }
}
