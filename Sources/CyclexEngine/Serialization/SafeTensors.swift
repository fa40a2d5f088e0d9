import Foundation

/// Errors reading or writing safetensors files; each names the file and what was wrong.
public enum SafeTensorsError: LocalizedError {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case wrongType(path: String, name: String, dtype: String, expected: String)
    case unwritable(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformed(path, reason): return "\(path): not a valid safetensors file: \(reason)"
        case let .missingTensor(path, name): return "\(path): no tensor named '\(name)'"
        case let .wrongType(path, name, dtype, expected): return "\(path): tensor '\(name)' is \(dtype), expected \(expected)"
        case let .unwritable(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}

/// A safetensors file (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
/// length, a JSON header mapping names to dtype, shape and byte range, an optional
/// `__metadata__` string map, then the raw little-endian data.
///
/// The file is untrusted input. `init(contentsOf:)` validates everything before any tensor is
/// read, with overflow-checked arithmetic: the header length against the file size and
/// `maximumHeaderBytes`; every dtype; every dimension (a JSON integer, ≥ 0, at most
/// `maximumRank` of them) and their product; every `data_offsets` pair (integers, ordered, inside
/// the data section) against the shape's byte count; and that the byte ranges tile the data
/// section exactly, in order, without overlaps or gaps (what the reference implementation
/// requires). Reads afterwards only touch validated ranges, and no allocation is sized by
/// anything not checked against the file's length.
public struct SafeTensorsFile {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        /// Byte range inside the data section (validated: `0 ≤ start ≤ end ≤ data section size`).
        let start: Int, end: Int
        /// Number of elements (the product of `shape`, checked against the byte range).
        public let count: Int
    }

    /// Headers larger than this are refused (the reference implementation's limit, 100 MB).
    public static let maximumHeaderBytes = 100_000_000
    /// Tensors of more dimensions than this are refused.
    public static let maximumRank = 16

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Names in file order (sorted by byte offset).
    public var names: [String] { entries.sorted { ($0.value.start, $0.key) < ($1.value.start, $1.key) }.map(\.key) }

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses and validates `data`; `path` names the file in errors.
    public init(data: Data, path: String) throws {
        self.path = path
        self.data = data
        func malformed(_ reason: String) -> SafeTensorsError { .malformed(path: path, reason: reason) }
        guard data.count >= 8 else { throw malformed("shorter than 8 bytes (\(data.count))") }
        let rawLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        let available = data.count - 8
        guard rawLength >= 2, rawLength <= UInt64(min(available, Self.maximumHeaderBytes)) else {
            throw malformed("header length \(rawLength) is not between 2 and "
                + (available < Self.maximumHeaderBytes ? "the \(available) bytes after the length field" : "\(Self.maximumHeaderBytes) bytes"))
        }
        let headerLength = Int(rawLength)
        dataStart = 8 + headerLength
        let dataSize = data.count - dataStart
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) } catch {
            throw malformed("header is not JSON (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else { throw malformed("header is not a JSON object") }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw malformed("__metadata__ is not a JSON object") }
                for (key, item) in map {
                    guard let text = item as? String else { throw malformed("__metadata__ entry '\(key)' is not a string") }
                    metadata[key] = text
                }
                continue
            }
            entries[name] = try Self.entry(name, value, dataSize: dataSize, malformed: malformed)
        }
        // The byte ranges must tile the data section: sorted by start, each begins where the
        // previous one ended, and the last ends at the end of the file.
        var position = 0
        for (name, entry) in entries.sorted(by: { ($0.value.start, $0.value.end, $0.key) < ($1.value.start, $1.value.end, $1.key) }) {
            if entry.start < position {
                throw malformed("tensor '\(name)' (bytes \(entry.start)..<\(entry.end)) overlaps the previous tensor, which ends at \(position)")
            }
            if entry.start > position {
                throw malformed("bytes \(position)..<\(entry.start) before tensor '\(name)' belong to no tensor")
            }
            position = entry.end
        }
        guard position == dataSize else {
            throw malformed("the tensors cover \(position) of the \(dataSize) data bytes (truncated or padded file?)")
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// Validates one header entry against the data section's size.
    private static func entry(
        _ name: String, _ value: Any, dataSize: Int, malformed: (String) -> SafeTensorsError
    ) throws -> Entry {
        guard !name.isEmpty else { throw malformed("a tensor has an empty name") }
        guard let info = value as? [String: Any] else { throw malformed("tensor '\(name)': entry is not a JSON object") }
        guard let dtype = info["dtype"] as? String else { throw malformed("tensor '\(name)': no dtype string") }
        guard let size = elementSize(dtype) else { throw malformed("tensor '\(name)': unknown dtype '\(dtype)'") }
        guard let rawShape = info["shape"] as? [Any] else { throw malformed("tensor '\(name)': no shape array") }
        guard rawShape.count <= maximumRank else {
            throw malformed("tensor '\(name)': \(rawShape.count) dimensions (at most \(maximumRank))")
        }
        var shape: [Int] = []
        var count = 1
        for item in rawShape {
            guard let dimension = jsonInteger(item), dimension >= 0 else {
                throw malformed("tensor '\(name)': shape \(describe(rawShape)) has an entry that is not a non-negative integer")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw malformed("tensor '\(name)': shape \(describe(rawShape)) has too many elements") }
            shape.append(dimension)
            count = product
        }
        guard let rawOffsets = info["data_offsets"] as? [Any], rawOffsets.count == 2,
              let start = jsonInteger(rawOffsets[0]), let end = jsonInteger(rawOffsets[1])
        else { throw malformed("tensor '\(name)': data_offsets is not a pair of integers") }
        guard start >= 0, start <= end, end <= dataSize else {
            throw malformed("tensor '\(name)': data_offsets [\(start), \(end)] lie outside the \(dataSize) data bytes (truncated?)")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, bytes == end - start else {
            throw malformed("tensor '\(name)' (\(dtype) \(shape)) needs \(overflow ? "more than \(Int.max)" : "\(bytes)") bytes, its data_offsets span \(end - start)")
        }
        return Entry(dtype: dtype, shape: shape, start: start, end: end, count: count)
    }

    /// A JSON number that is an integer representable as `Int` (not fractional, not out of range;
    /// the 64-bit value must agree with the number's double value).
    private static func jsonInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double.rounded() == double, abs(double) <= 9.3e18 else { return nil }
        let integer = number.int64Value
        guard Double(integer) == double else { return nil }
        return Int(integer)
    }

    private static func describe(_ values: [Any]) -> String {
        "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "U8", "I8", "BOOL": return 1
        default: return nil
        }
    }

    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw SafeTensorsError.missingTensor(path: path, name: name) }
        return e
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The elements of a validated entry: `count · size(T)` bytes equals the entry's byte range,
    /// which lies inside the data section, so every read is in bounds.
    private func load<T>(_ name: String, as type: T.Type) throws -> [T] {
        let e = try entry(name)
        precondition(e.count * MemoryLayout<T>.size == e.end - e.start, "dtype size mismatch for \(name)")
        let base = dataStart + e.start
        return data.withUnsafeBytes { raw in
            (0..<e.count).map { raw.loadUnaligned(fromByteOffset: base + $0 * MemoryLayout<T>.size, as: T.self) }
        }
    }

    /// The values of an F32, F64, I64 or U8 tensor converted to Float.
    public func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        switch e.dtype {
        case "F32": return try load(name, as: Float.self)
        case "F64": return try load(name, as: Double.self).map { Float($0) }
        case "I64": return try load(name, as: Int64.self).map { Float($0) }
        case "U8": return try load(name, as: UInt8.self).map { Float($0) }
        default: throw SafeTensorsError.wrongType(path: path, name: name, dtype: e.dtype, expected: "F32, F64, I64 or U8")
        }
    }

    /// The values of an F64 or F32 tensor as Double.
    public func doubles(_ name: String) throws -> [Double] {
        let e = try entry(name)
        switch e.dtype {
        case "F64": return try load(name, as: Double.self)
        case "F32": return try load(name, as: Float.self).map { Double($0) }
        default: throw SafeTensorsError.wrongType(path: path, name: name, dtype: e.dtype, expected: "F64 or F32")
        }
    }

    /// The values of an I64 tensor.
    public func int64s(_ name: String) throws -> [Int64] {
        let e = try entry(name)
        guard e.dtype == "I64" else { throw SafeTensorsError.wrongType(path: path, name: name, dtype: e.dtype, expected: "I64") }
        return try load(name, as: Int64.self)
    }

    /// The values of a U8 tensor.
    public func bytes(_ name: String) throws -> [UInt8] {
        let e = try entry(name)
        guard e.dtype == "U8" || e.dtype == "BOOL" else {
            throw SafeTensorsError.wrongType(path: path, name: name, dtype: e.dtype, expected: "U8")
        }
        return try load(name, as: UInt8.self)
    }

    /// A tensor (any numeric dtype converted to float32) with the stored shape.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        return Tensor(shape: e.shape, scalars: try floats(name))
    }
}

/// Collects tensors and writes a safetensors file atomically (temporary file, fsync, rename),
/// so a crash never leaves a half-written checkpoint behind.
public struct SafeTensorsWriter {
    private var items: [(name: String, dtype: String, shape: [Int], bytes: Data)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, _ tensor: Tensor) {
        add(name, floats: tensor.scalars, shape: tensor.shape)
    }

    public mutating func add(_ name: String, floats: [Float], shape: [Int]) {
        items.append((name, "F32", shape, floats.withUnsafeBufferPointer { Data(buffer: $0) }))
    }

    public mutating func add(_ name: String, doubles: [Double], shape: [Int]) {
        items.append((name, "F64", shape, doubles.withUnsafeBufferPointer { Data(buffer: $0) }))
    }

    public mutating func add(_ name: String, int64s: [Int64], shape: [Int]) {
        items.append((name, "I64", shape, int64s.withUnsafeBufferPointer { Data(buffer: $0) }))
    }

    public mutating func add(_ name: String, bytes: [UInt8], shape: [Int]) {
        items.append((name, "U8", shape, Data(bytes)))
    }

    /// The encoded file.
    public func encoded() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for item in items {
            header[item.name] = ["dtype": item.dtype, "shape": item.shape, "data_offsets": [offset, offset + item.bytes.count]]
            offset += item.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data starts 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        out.append(Data(bytes: &length, count: 8))
        out.append(json)
        for item in items { out.append(item.bytes) }
        return out
    }

    /// Writes to `url` via a temporary file in the same folder, fsync and rename.
    public func write(to url: URL) throws {
        let data = try encoded()
        try AtomicFile.write(data, to: url)
    }
}
