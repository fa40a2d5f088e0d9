import CyclexEngine
import Foundation

extension Image {
    /// Encodes the image to `url` through `AtomicFile` (the encoder writes a hidden temporary
    /// file in the target folder, which is created when missing; it is fsynced and renamed into
    /// place), so an interrupted run never leaves a half-written image that a later run would
    /// take for finished. Without a `format`, the extension of `url` decides.
    /// - Throws: `ImageError.cannotWrite` naming `url` (never the temporary path).
    public func write(atomicallyTo url: URL, format: ImageFileFormat? = nil) throws {
        guard let format = format ?? ImageFileFormat(pathExtension: url.pathExtension) else {
            throw ImageError.cannotWrite(
                path: url.path, reason: "unknown image extension '.\(url.pathExtension)' (use .png, .jpg or .jpeg)")
        }
        do {
            try AtomicFile.write(to: url) { temporary in try write(to: temporary, format: format) }
        } catch let ImageError.cannotWrite(_, reason) {
            throw ImageError.cannotWrite(path: url.path, reason: reason)
        } catch let SafeTensorsError.unwritable(_, reason) {
            throw ImageError.cannotWrite(path: url.path, reason: reason)
        }
    }
}
