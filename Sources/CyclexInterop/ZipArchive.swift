import CZlib
import Foundation

/// Read-only view of a zip archive held in memory (usually memory-mapped), as written by
/// `torch.save` and `torch.jit.save`: the central directory (zip64 records included) is parsed
/// and checked against the file size before any entry is read; entries may be stored (what
/// PyTorch writes) or deflated (a re-zipped file). Every entry is checked against its CRC-32.
public struct ZipArchive {
    public struct Entry: Sendable {
        public let name: String
        public let method: Int
        public let compressedSize: Int
        public let uncompressedSize: Int
        let crc32: UInt32
        let localHeaderOffset: Int
    }

    /// Limits that keep a hostile directory from costing more than the file's own size.
    public static let maximumEntries = 1_000_000
    public static let maximumEntrySize = 1 << 34

    public let path: String
    public let entries: [String: Entry]
    private let data: Data

    /// True when `data` starts like a zip file (local file header signature).
    public static func looksLikeZip(_ data: Data) -> Bool {
        data.count >= 4 && data.prefix(4).elementsEqual([0x50, 0x4B, 0x03, 0x04])
    }

    public init(data: Data, path: String) throws {
        self.data = data
        self.path = path
        let reader = ByteReader(data: data)
        func fail(_ reason: String) -> TorchFileError { .malformedArchive(path: path, reason: reason) }

        // End of central directory: 22 bytes + a comment of at most 65535 bytes, at the end.
        guard data.count >= 22 else { throw fail("shorter than a zip directory (\(data.count) bytes)") }
        let searchStart = max(0, data.count - 22 - 65535)
        var eocd = -1
        var position = data.count - 22
        while position >= searchStart {
            if reader.u32(position) == 0x0605_4B50 { eocd = position; break }
            position -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record") }
        var entryCount = Int(reader.u16(eocd + 10))
        var directorySize = Int(reader.u32(eocd + 12))
        var directoryOffset = Int(reader.u32(eocd + 16))
        // zip64: a locator 20 bytes before the EOCD points at the zip64 EOCD record.
        if eocd >= 20, reader.u32(eocd - 20) == 0x0706_4B50 {
            let recordOffset = reader.u64(eocd - 20 + 8)
            guard recordOffset >= 0, recordOffset <= data.count - 56, reader.u32(recordOffset) == 0x0606_4B50 else {
                throw fail("zip64 locator points outside the file")
            }
            entryCount = reader.u64(recordOffset + 32)
            directorySize = reader.u64(recordOffset + 40)
            directoryOffset = reader.u64(recordOffset + 48)
        }
        guard entryCount >= 0, entryCount <= Self.maximumEntries else {
            throw TorchFileError.limitExceeded(path: path, what: "the number of zip entries", value: entryCount, limit: Self.maximumEntries)
        }
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset <= data.count, directorySize <= data.count - directoryOffset,
              entryCount * 46 <= directorySize
        else { throw fail("central directory (offset \(directoryOffset), \(directorySize) bytes, \(entryCount) entries) does not fit the file") }

        var entries: [String: Entry] = [:]
        var cursor = directoryOffset
        let end = directoryOffset + directorySize
        for _ in 0..<entryCount {
            guard cursor + 46 <= end, reader.u32(cursor) == 0x0201_4B50 else { throw fail("central directory entry at \(cursor) is damaged") }
            let flags = Int(reader.u16(cursor + 8))
            let method = Int(reader.u16(cursor + 10))
            let crc = UInt32(reader.u32(cursor + 16))
            var compressed = Int(reader.u32(cursor + 20))
            var uncompressed = Int(reader.u32(cursor + 24))
            let nameLength = Int(reader.u16(cursor + 28)), extraLength = Int(reader.u16(cursor + 30))
            let commentLength = Int(reader.u16(cursor + 32))
            var localOffset = Int(reader.u32(cursor + 42))
            let nameStart = cursor + 46
            guard nameStart + nameLength + extraLength + commentLength <= end else { throw fail("central directory entry at \(cursor) overruns the directory") }
            guard flags & 1 == 0 else { throw fail("encrypted entries are not supported") }
            let name = String(decoding: data[(data.startIndex + nameStart)..<(data.startIndex + nameStart + nameLength)], as: UTF8.self)
            // zip64 extra field (id 1): the 64-bit values of the fields saturated at 0xFFFFFFFF, in order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = reader.u16(extra), size = Int(reader.u16(extra + 2))
                guard extra + 4 + size <= extraEnd else { throw fail("extra field of '\(name)' overruns its entry") }
                if id == 1 {
                    var field = extra + 4
                    func next() throws -> Int {
                        guard field + 8 <= extra + 4 + size else { throw fail("zip64 field of '\(name)' is too short") }
                        defer { field += 8 }
                        return reader.u64(field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra += 4 + size
            }
            guard compressed >= 0, uncompressed >= 0, uncompressed <= Self.maximumEntrySize else {
                throw TorchFileError.limitExceeded(path: path, what: "the size of zip entry '\(name)'", value: uncompressed, limit: Self.maximumEntrySize)
            }
            guard localOffset >= 0, localOffset <= data.count - 30 else { throw fail("entry '\(name)' starts outside the file") }
            entries[name] = Entry(name: name, method: method, compressedSize: compressed, uncompressedSize: uncompressed,
                                  crc32: crc, localHeaderOffset: localOffset)
            cursor = extraEnd + commentLength
        }
        self.entries = entries
    }

    /// The names of all entries.
    public var names: [String] { entries.keys.sorted() }

    /// The uncompressed bytes of `name` (a slice of the mapped file for stored entries).
    public func contents(of name: String) throws -> Data {
        guard let entry = entries[name] else { throw TorchFileError.malformedArchive(path: path, reason: "no entry '\(name)'") }
        let reader = ByteReader(data: data)
        let local = entry.localHeaderOffset
        guard reader.u32(local) == 0x0403_4B50 else {
            throw TorchFileError.malformedArchive(path: path, reason: "local header of '\(name)' is missing")
        }
        let start = local + 30 + Int(reader.u16(local + 26)) + Int(reader.u16(local + 28))
        guard start <= data.count, entry.compressedSize <= data.count - start else {
            throw TorchFileError.malformedArchive(path: path, reason: "entry '\(name)' (\(entry.compressedSize) bytes) runs past the end of the file")
        }
        let raw = data[(data.startIndex + start)..<(data.startIndex + start + entry.compressedSize)]
        let bytes: Data
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw TorchFileError.malformedArchive(path: path, reason: "stored entry '\(name)' has different sizes")
            }
            bytes = raw
        case 8:
            // Deflate expands at most 1032:1; a larger claim is a lie that would make us allocate for nothing.
            guard entry.uncompressedSize <= entry.compressedSize * 1032 + 1024 else {
                throw TorchFileError.limitExceeded(path: path, what: "the declared size of deflated entry '\(name)'",
                                                   value: entry.uncompressedSize, limit: entry.compressedSize * 1032 + 1024)
            }
            bytes = try inflate(raw, expectedSize: entry.uncompressedSize, name: name)
        default: throw TorchFileError.unsupportedCompression(path: path, entry: name, method: entry.method)
        }
        guard Self.crc32(bytes) == entry.crc32 else { throw TorchFileError.checksumMismatch(path: path, entry: name) }
        return bytes
    }

    static func crc32(_ bytes: Data) -> UInt32 {
        bytes.withUnsafeBytes { raw -> UInt32 in
            var crc: UInt = CZlib.crc32(0, nil, 0)
            var offset = 0
            while offset < raw.count {
                let chunk = min(raw.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, UInt32(chunk))
                offset += chunk
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    /// Raw deflate into exactly `expectedSize` bytes; more or fewer is an error.
    private func inflate(_ compressed: Data, expectedSize: Int, name: String) throws -> Data {
        var output = Data(count: expectedSize)
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TorchFileError.malformedArchive(path: path, reason: "zlib could not start for '\(name)'")
        }
        defer { inflateEnd(&stream) }
        var status: Int32 = Z_OK
        var produced = 0
        compressed.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
                stream.avail_in = UInt32(input.count)
                stream.next_out = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(out.count)
                status = CZlib.inflate(&stream, Z_FINISH)
                produced = out.count - Int(stream.avail_out)
            }
        }
        guard status == Z_STREAM_END, produced == expectedSize else {
            throw TorchFileError.malformedArchive(path: path, reason: "deflated entry '\(name)' does not decode to its declared \(expectedSize) bytes")
        }
        return output
    }
}

/// Little-endian reads that return 0 past the end (callers check ranges before trusting values).
struct ByteReader {
    let data: Data
    func u16(_ offset: Int) -> Int {
        guard offset >= 0, offset + 2 <= data.count else { return 0 }
        return data.withUnsafeBytes { Int(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) }
    }
    func u32(_ offset: Int) -> Int {
        guard offset >= 0, offset + 4 <= data.count else { return 0 }
        return data.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
    }
    /// A 64-bit field; values beyond Int.max come back as -1 (always out of range).
    func u64(_ offset: Int) -> Int {
        guard offset >= 0, offset + 8 <= data.count else { return -1 }
        let v = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        return v > UInt64(Int.max) ? -1 : Int(v)
    }
}
