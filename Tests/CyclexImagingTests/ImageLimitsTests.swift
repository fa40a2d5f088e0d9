import CImageCodecs
import CyclexImaging
import Foundation
import Testing

/// Peak resident memory of this process in bytes (Linux reports kilobytes).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// `jpeg` with the width and height of its SOF0/SOF2 frame header replaced.
func jpegDeclaring(width: Int, height: Int, from jpeg: [UInt8]) -> [UInt8] {
    var bytes = jpeg
    var i = 2
    while i + 9 < bytes.count {
        guard bytes[i] == 0xFF else { i += 1; continue }
        let marker = bytes[i + 1]
        if marker == 0xC0 || marker == 0xC2 {
            bytes[i + 5] = UInt8(height >> 8); bytes[i + 6] = UInt8(height & 0xFF)
            bytes[i + 7] = UInt8(width >> 8); bytes[i + 8] = UInt8(width & 0xFF)
            return bytes
        }
        i += 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
    }
    Issue.record("no SOF0/SOF2 marker found")
    return bytes
}

/// `png` with the IHDR width and height replaced (CRC fixed so only the size is wrong).
func pngDeclaring(width: UInt32, height: UInt32, from png: [UInt8]) -> [UInt8] {
    var bytes = png
    bytes.replaceSubrange(16..<24, with: Checksums.bigEndian(width) + Checksums.bigEndian(height))
    bytes.replaceSubrange(29..<33, with: Checksums.bigEndian(Checksums.crc32(bytes[12..<29])))
    return bytes
}

@Suite("Image limits: sizes and scans are refused from the header, before anything is allocated")
struct ImageLimitsTests {
    @Test("A 65500x33000 JPEG (baseline and progressive) of a few KB is refused without allocating", arguments: [false, true])
    func hugeDeclaredJPEG(progressive: Bool) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try smoothImage(width: 64, height: 48, channels: 3).write(to: folder.file("small.jpg"), format: .jpeg(quality: 90, progressive: progressive))
        let bytes = jpegDeclaring(width: 65500, height: 33000, from: try readBytes(folder.file("small.jpg")))
        let before = peakResidentBytes()
        let error = expectImageError(["huge.jpg", "65500x33000", "CYCLEX_MAX_IMAGE_PIXELS"]) {
            _ = try Image(decoding: bytes, name: "huge.jpg")
        }
        #expect(error?.path == "huge.jpg")
        if case .tooLarge = error {} else { Issue.record("expected .tooLarge, got \(String(describing: error))") }
        // Before the header check this took 4.3 GB (coefficient buffers of 65500x33000x3).
        #expect(peakResidentBytes() - before < 512 << 20)
        // Within the side limit but over the pixel limit, and over the side limit (65535 > 65500 is
        // JPEG's own maximum, so use a lower side limit to reach that branch).
        let limits = ImageLimits(maxPixels: 1_000_000, maxSide: 1000, maxJPEGScans: 500, maxFileBytes: 1 << 20)
        _ = expectImageError(["side.jpg", "1001x10", "1000 pixels per side", "CYCLEX_MAX_IMAGE_SIDE"]) {
            _ = try Image(decoding: jpegDeclaring(width: 1001, height: 10, from: bytes), name: "side.jpg", limits: limits)
        }
    }

    @Test("A PNG declaring 60000x60000 is refused from IHDR; explicit limits apply to both codecs")
    func hugeDeclaredPNG() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let image = smoothImage(width: 20, height: 20, channels: 3)
        try image.write(to: folder.file("small.png"))
        try image.write(to: folder.file("small.jpg"))
        let png = try readBytes(folder.file("small.png")), jpeg = try readBytes(folder.file("small.jpg"))
        let before = peakResidentBytes()
        _ = expectImageError(["huge.png", "libpng", "60000x60000", "CYCLEX_MAX_IMAGE_PIXELS"]) {
            _ = try Image(decoding: pngDeclaring(width: 60000, height: 60000, from: png), name: "huge.png")
        }
        _ = expectImageError(["wide.png", "70000x1", "CYCLEX_MAX_IMAGE_SIDE"]) {
            _ = try Image(decoding: pngDeclaring(width: 70000, height: 1, from: png), name: "wide.png")
        }
        #expect(peakResidentBytes() - before < 512 << 20)

        let tight = ImageLimits(maxPixels: 399, maxSide: 100, maxJPEGScans: 10, maxFileBytes: 1 << 20)
        _ = expectImageError(["a.png", "20x20 = 400 pixels", "limit of 399"]) { _ = try Image(decoding: png, name: "a.png", limits: tight) }
        _ = expectImageError(["a.jpg", "20x20 = 400 pixels", "limit of 399"]) { _ = try Image(decoding: jpeg, name: "a.jpg", limits: tight) }
        let enough = ImageLimits(maxPixels: 400, maxSide: 20, maxJPEGScans: 10, maxFileBytes: 1 << 20)
        #expect(try Image(decoding: png, limits: enough) == image)
        #expect(try Image(decoding: jpeg, limits: enough).width == 20)
        // The file reader applies them too.
        _ = expectImageError(["small.png", "limit of 399"]) { _ = try Image(contentsOf: folder.file("small.png"), limits: tight) }
    }

    @Test("A progressive JPEG with 568 scans stops at the scan limit; a raised limit decodes it")
    func progressiveScanLimit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let image = smoothImage(width: 32, height: 32, channels: 3)
        let path = folder.file("scans.jpg").path
        var message = [CChar](repeating: 0, count: 256)
        let code = image.samples8!.withUnsafeBufferPointer { buffer in
            var raw = cx_image(width: 32, height: 32, channels: 3, depth: 8, exif_orientation: 1,
                               pixels: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            return cx_jpeg_write_many_scans(path, &raw, 95, &message, message.count)
        }
        #expect(code == 0, "\(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        let bytes = try readBytes(URL(fileURLWithPath: path))
        _ = expectImageError(["scans.jpg", "more than 500 progressive scans", "CYCLEX_MAX_JPEG_SCANS"]) {
            _ = try Image(decoding: bytes, name: "scans.jpg", limits: .defaults)
        }
        var raised = ImageLimits.defaults
        raised.maxJPEGScans = 600
        let decoded = try Image(decoding: bytes, limits: raised)
        #expect(psnr(decoded, image) > 30)
        raised.maxJPEGScans = 567
        _ = expectImageError(["more than 567 progressive scans"]) { _ = try Image(decoding: bytes, limits: raised) }
    }

    @Test("Limit variables: positive integers, malformed values named")
    func environment() throws {
        let limits = try ImageLimits.fromEnvironment(["CYCLEX_MAX_IMAGE_PIXELS": "400_000_000", "CYCLEX_MAX_JPEG_SCANS": "2000",
                                                      "CYCLEX_MAX_IMAGE_SIDE": "100000", "CYCLEX_MAX_FILE_BYTES": "17179869184"])
        #expect(limits == ImageLimits(maxPixels: 400_000_000, maxSide: 100_000, maxJPEGScans: 2000, maxFileBytes: 1 << 34))
        #expect(try ImageLimits.fromEnvironment([:]) == .defaults)
        for (name, value) in [("CYCLEX_MAX_IMAGE_PIXELS", "lots"), ("CYCLEX_MAX_IMAGE_PIXELS", "0"), ("CYCLEX_MAX_JPEG_SCANS", "-5"),
                              ("CYCLEX_MAX_IMAGE_SIDE", "4294967296"), ("CYCLEX_MAX_FILE_BYTES", "1e9")] {
            #expect(throws: ImageError.invalidOption("\(name)=\(value): expected a positive integer up to \(name == "CYCLEX_MAX_IMAGE_SIDE" || name == "CYCLEX_MAX_JPEG_SCANS" ? "\(UInt32.max)" : "\(UInt64.max)")")) {
                _ = try ImageLimits.fromEnvironment([name: value])
            }
        }
    }

    @Test("IDX: dimensions whose product overflows, and inflated sizes over the limit")
    func idx() throws {
        _ = expectImageError(["big.idx", "overflow"]) {
            _ = try IDXArray(bytes: idxBytes(dimensions: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], values: [1, 2, 3]), name: "big.idx")
        }
        _ = expectImageError(["short.idx", "truncated"]) {
            _ = try IDXArray(bytes: idxBytes(dimensions: [0xFFFF_FFFF, 2], values: [1, 2, 3]), name: "short.idx")
        }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let content = idxBytes(dimensions: [100, 10], values: [UInt8](repeating: 7, count: 1000))
        let url = try folder.write(Checksums.gzipStored(content), to: "bomb-idx1-ubyte.gz")
        let small = ImageLimits(maxPixels: 1, maxSide: 1, maxJPEGScans: 1, maxFileBytes: 500)
        _ = expectImageError(["bomb-idx1-ubyte.gz", "more than 500 bytes", "CYCLEX_MAX_FILE_BYTES"]) {
            _ = try IDXArray(contentsOf: url, limits: small)
        }
        #expect(try IDXArray(contentsOf: url).dimensions == [100, 10])
    }
}

@Suite("Folder walks end on symbolic-link cycles")
struct FolderCycleTests {
    @Test("A folder with two links to itself and one to its parent lists each image once")
    func linkCycles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let image = smoothImage(width: 8, height: 8, channels: 3)
        try folder.makeFolder("data/inner")
        try folder.makeFolder("other")
        try image.write(to: folder.file("data/a.png"))
        try image.write(to: folder.file("data/inner/b.png"))
        try image.write(to: folder.file("other/c.png"))
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: folder.file("data/self1").path, withDestinationPath: ".")
        try manager.createSymbolicLink(atPath: folder.file("data/inner/self2").path, withDestinationPath: "..")
        try manager.createSymbolicLink(atPath: folder.file("data/inner/self3").path, withDestinationPath: folder.file("data").path)
        // Two links to one outside folder: its image is listed once.
        try manager.createSymbolicLink(atPath: folder.file("data/x-other").path, withDestinationPath: folder.file("other").path)
        try manager.createSymbolicLink(atPath: folder.file("data/y-other").path, withDestinationPath: folder.file("other").path)
        let listed = try ImageFolder(folder.file("data"))
        #expect(listed.files.map { listed.relativePath(of: $0) } == ["a.png", "inner/b.png", "x-other/c.png"])
    }
}
