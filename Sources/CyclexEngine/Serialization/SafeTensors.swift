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
public struct SafeTensorsFile {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        let start: Int, end: Int
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Names in file order (sorted by byte offset).
    public var names: [String] { entries.sorted { $0.value.start < $1.value.start }.map(\.key) }

    public init(contentsOf url: URL) throws {
        path = url.path
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else { throw SafeTensorsError.malformed(path: path, reason: "shorter than 8 bytes") }
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLength > 0, 8 + headerLength <= data.count else {
            throw SafeTensorsError.malformed(path: path, reason: "header length \(headerLength) exceeds the file size \(data.count)")
        }
        dataStart = 8 + headerLength
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) } catch {
            throw SafeTensorsError.malformed(path: path, reason: "header is not JSON (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else { throw SafeTensorsError.malformed(path: path, reason: "header is not a JSON object") }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets") }
            guard offsets[0] <= offsets[1], dataStart + offsets[1] <= data.count else {
                throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)' points past the end of the file (truncated?)")
            }
            guard let size = Self.elementSize(dtype), shape.reduce(1, *) * size == offsets[1] - offsets[0] else {
                throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)' (\(dtype) \(shape)) has \(offsets[1] - offsets[0]) bytes")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, start: offsets[0], end: offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
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

    private func load<T>(_ name: String, as type: T.Type) throws -> [T] {
        let e = try entry(name)
        let n = e.shape.reduce(1, *)
        return data.withUnsafeBytes { raw in
            (0..<n).map { raw.loadUnaligned(fromByteOffset: dataStart + e.start + $0 * MemoryLayout<T>.size, as: T.self) }
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
