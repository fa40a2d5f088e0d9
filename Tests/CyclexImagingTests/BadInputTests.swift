import CyclexEngine
import CyclexImaging
import Foundation
import Testing

/// Expects `body` to throw an `ImageError` whose message contains every fragment.
func expectImageError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () throws -> Void) -> ImageError? {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
        return nil
    } catch let error as ImageError {
        let message = error.localizedDescription
        for fragment in fragments {
            #expect(message.contains(fragment), "'\(message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("Bad input: every failure names the file and the problem, nothing crashes")
struct BadInputTests {
    @Test("Truncated and corrupt PNGs")
    func corruptPNG() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try noiseImage(width: 40, height: 30, channels: 3, sixteenBit: false).write(to: folder.file("good.png"), format: .png(compressionLevel: 1))
        let bytes = try readBytes(folder.file("good.png"))

        let truncated = try folder.write(Array(bytes.prefix(bytes.count / 2)), to: "truncated.png")
        let error = expectImageError(["truncated.png", "libpng", "Read Error"]) { _ = try Image(contentsOf: truncated) }
        #expect(error == .corrupt(path: truncated.path, reason: "libpng: Read Error"))

        // Cut right after the signature and inside IHDR.
        for cut in [8, 20] {
            let url = try folder.write(Array(bytes.prefix(cut)), to: "cut\(cut).png")
            _ = expectImageError(["cut\(cut).png", "libpng"]) { _ = try Image(contentsOf: url) }
        }

        // One flipped byte inside the IDAT data: zlib's check or the chunk CRC catches it.
        var flipped = bytes
        let idat = (0..<(bytes.count - 4)).first { bytes[$0..<($0 + 4)].elementsEqual(Array("IDAT".utf8)) }!
        flipped[idat + 20] ^= 0xFF
        let crc = try folder.write(flipped, to: "crc.png")
        _ = expectImageError(["crc.png", "libpng: IDAT"]) { _ = try Image(contentsOf: crc) }

        // Missing IEND (cut 12 bytes short) is reported too.
        let noEnd = try folder.write(Array(bytes.dropLast(12)), to: "noend.png")
        _ = expectImageError(["noend.png", "libpng"]) { _ = try Image(contentsOf: noEnd) }
    }

    @Test("Truncated and corrupt JPEGs")
    func corruptJPEG() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try smoothImage(width: 64, height: 64, channels: 3).write(to: folder.file("good.jpg"))
        let bytes = try readBytes(folder.file("good.jpg"))

        let truncated = try folder.write(Array(bytes.prefix(bytes.count * 2 / 3)), to: "horse/0001.jpg")
        let error = expectImageError(["horse/0001.jpg", "libjpeg: Premature end of JPEG file"]) {
            _ = try Image(contentsOf: truncated)
        }
        #expect(error?.path == truncated.path)

        // Cut inside the headers.
        let header = try folder.write(Array(bytes.prefix(40)), to: "header.jpg")
        _ = expectImageError(["header.jpg", "libjpeg"]) { _ = try Image(contentsOf: header) }

        // Garbage (0xFF run) inside the entropy-coded scan.
        var garbage = bytes
        for i in (bytes.count / 2)..<(bytes.count / 2 + 64) { garbage[i] = 0xFF }
        let scan = try folder.write(garbage, to: "garbage.jpg")
        _ = expectImageError(["garbage.jpg", "libjpeg"]) { _ = try Image(contentsOf: scan) }

        // Only the SOI marker.
        let soi = try folder.write([0xFF, 0xD8, 0xFF], to: "soi.jpg")
        _ = expectImageError(["soi.jpg", "libjpeg"]) { _ = try Image(contentsOf: soi) }
    }

    @Test("Unsupported formats, empty files, text and missing files")
    func notImages() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let empty = try folder.write([], to: "empty.png")
        _ = expectImageError(["empty.png", "empty file"]) { _ = try Image(contentsOf: empty) }
        let text = try folder.write(Array("hello, I am not a picture\n".utf8), to: "notes.jpg")
        _ = expectImageError(["notes.jpg", "not a PNG or JPEG file"]) { _ = try Image(contentsOf: text) }
        let gif = try folder.write(Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0], to: "anim.png")
        let gifError = expectImageError(["anim.png", "unsupported format GIF"]) { _ = try Image(contentsOf: gif) }
        if case .unsupportedFormat = gifError {} else { Issue.record("GIF should be .unsupportedFormat, got \(String(describing: gifError))") }
        let webp = try folder.write(Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8), to: "x.jpg")
        _ = expectImageError(["x.jpg", "WebP"]) { _ = try Image(contentsOf: webp) }
        let missing = folder.file("nowhere/missing.png")
        _ = expectImageError(["nowhere/missing.png", "cannot open", "No such file"]) { _ = try Image(contentsOf: missing) }
        _ = expectImageError([folder.url.path, "is a directory"]) { _ = try Image(contentsOf: folder.url) }
    }

    @Test("Write failures name the file; a failed write leaves no partial file")
    func writeFailures() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let image = smoothImage(width: 8, height: 8, channels: 3)
        _ = expectImageError(["out.bmp", "unknown image extension"]) { try image.write(to: folder.file("out.bmp")) }
        _ = expectImageError(["no/such/dir/out.png", "cannot create"]) { try image.write(to: folder.file("no/such/dir/out.png")) }
        #expect(!FileManager.default.fileExists(atPath: folder.file("out.bmp").path))
    }

    @Test("Folder problems: missing, a file, empty, only unsupported images")
    func folderProblems() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = expectImageError(["data/trainA", "folder does not exist"]) {
            try folder.makeFolder("data/trainB")
            _ = try UnpairedDataset(root: folder.file("data"))
        }
        _ = expectImageError(["nothing-here", "folder does not exist"]) { _ = try UnpairedDataset(root: folder.file("nothing-here")) }
        try folder.makeFolder("data/trainA")
        try folder.write(Array("x".utf8), to: "data/trainA/readme.txt")
        try folder.write(Array("x".utf8), to: "data/trainA/.hidden.png")
        _ = expectImageError(["data/trainA", "no images found"]) { _ = try UnpairedDataset(root: folder.file("data")) }
        try folder.write(Array("GIF89a".utf8), to: "gifs/a.gif")
        _ = expectImageError(["gifs", "unsupported formats", "a.gif"]) { _ = try ImageFolder(folder.file("gifs")) }
        let file = try folder.write([1], to: "plain-file")
        _ = expectImageError(["plain-file", "expected a folder"]) { _ = try ImageFolder(file) }
    }

    @Test("An image smaller than the crop is an error naming the file")
    func smallerThanCrop() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.file("small.png")
        try smoothImage(width: 20, height: 40, channels: 3).write(to: url)
        var generator = RandomGenerator(seed: 1)
        let options = Preprocessing(mode: .crop, size: 32)
        let error = expectImageError(["small.png", "20x40", "smaller than the 32x32 crop"]) {
            _ = try options.load(url, using: &generator)
        }
        #expect(error == .smallerThanCrop(path: url.path, width: 20, height: 40, cropWidth: 32, cropHeight: 32))
        _ = expectImageError(["load size 30", "crop size 32"]) { try Preprocessing(size: 32, loadSize: 30).validate() }
    }

    @Test("A malformed tensor shape is an error, not a crash")
    func badTensor() throws {
        _ = expectImageError(["[2, 3, 4]", "not an image"]) { _ = try Image(tensor: Tensor(shape: [2, 3, 4], scalars: [Float](repeating: 0, count: 24))) }
    }
}
