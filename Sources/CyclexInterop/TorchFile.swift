import Foundation

/// A PyTorch file read without PyTorch: `torch.save` zip files, TorchScript (`torch.jit.save`)
/// zip files, and the legacy pre-1.6 `torch.save` stream. The file is untrusted: the pickle runs
/// in `PickleMachine` (nothing executed, allow-listed names only), every storage must exist and
/// have exactly the declared size, and every tensor view must lie inside its storage.
///
/// The result is the pickled root value plus `tensors`: every tensor reachable through dicts
/// with string keys and TorchScript module attributes, under its dotted path
/// (`model.1.weight`, `net.layers.conv.weight`), in file order.
public struct TorchFile {
    public let path: String
    public let root: PickleValue
    public let tensors: [(name: String, tensor: TorchTensor)]
    /// "zip", "torchscript" or "legacy".
    public let format: String

    public static let maximumNesting = 64

    public init(contentsOf url: URL, limits: PickleMachine.Limits = .init()) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw TorchFileError.malformedArchive(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(data: data, path: url.path, limits: limits)
    }

    public init(data: Data, path: String, limits: PickleMachine.Limits = .init()) throws {
        self.path = path
        if ZipArchive.looksLikeZip(data) {
            (root, format) = try Self.readZip(data, path: path, limits: limits)
        } else {
            root = try Self.readLegacy(data, path: path, limits: limits)
            format = "legacy"
        }
        var found: [(String, TorchTensor)] = []
        try Self.collectTensors(root, prefix: "", depth: 0, path: path, into: &found)
        tensors = found
    }

    /// The tensor named `name` as row-major floats with its shape.
    public func tensor(_ name: String) -> TorchTensor? { tensors.first { $0.name == name }?.tensor }

    // MARK: - zip (torch.save since 1.6, torch.jit.save)

    private static func readZip(_ data: Data, path: String, limits: PickleMachine.Limits) throws -> (PickleValue, String) {
        let zip = try ZipArchive(data: data, path: path)
        // The archive's folder is the one holding data.pkl (named after the file when saved).
        let roots = zip.names.filter { $0.hasSuffix("/data.pkl") && $0.dropLast("/data.pkl".count).contains("/") == false }
        guard roots.count == 1, let pickleName = roots.first else {
            throw TorchFileError.notAStateDict(path: path, reason: roots.isEmpty ? "the zip has no <name>/data.pkl entry" : "the zip has \(roots.count) data.pkl entries")
        }
        let folder = String(pickleName.dropLast("data.pkl".count))
        if zip.entries[folder + "byteorder"] != nil {
            let order = String(decoding: try zip.contents(of: folder + "byteorder"), as: UTF8.self)
            guard order == "little" else { throw TorchFileError.malformedArchive(path: path, reason: "byte order '\(order)' (only little-endian is read)") }
        }
        let isTorchScript = zip.entries[folder + "constants.pkl"] != nil
        var storages: [String: TorchStorage] = [:]
        let machine = PickleMachine(path: path, limits: limits, allowsTorchScriptClasses: isTorchScript) { pid in
            let (dtype, key, count) = try storageReference(pid, path: path)
            if let known = storages[key] {
                guard known.dtype == dtype else { throw TorchFileError.invalidTensor(path: path, reason: "storage '\(key)' is used with two element types") }
                return .storage(known)
            }
            let entryName = folder + "data/" + key
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), zip.entries[entryName] != nil else {
                throw TorchFileError.missingStorage(path: path, key: key)
            }
            let bytes = try zip.contents(of: entryName)
            let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, bytes.count == needed else {
                throw TorchFileError.invalidTensor(path: path, reason: "storage '\(key)' declares \(count) \(dtype.rawValue) elements but its entry has \(bytes.count) bytes")
            }
            let storage = TorchStorage(key: key, dtype: dtype, count: count, bytes: bytes)
            storages[key] = storage
            return .storage(storage)
        }
        let value = try machine.load(try zip.contents(of: pickleName)).value
        return (value, isTorchScript ? "torchscript" : "zip")
    }

    /// `('storage', torch.FloatStorage, key, location, count[, view_metadata])`.
    private static func storageReference(_ pid: PickleValue, path: String) throws -> (TorchDType, String, Int) {
        guard case let .tuple(items) = pid, items.count >= 5, case .string("storage") = items[0],
              case let .global(_, typeName) = items[1], case let .string(key) = items[2], case let .int(count) = items[4],
              count >= 0
        else { throw TorchFileError.malformedPickle(path: path, reason: "persistent id is not a storage reference", offset: 0) }
        guard let dtype = TorchDType(storageClass: typeName) else {
            throw TorchFileError.disallowedGlobal(path: path, module: "torch", name: typeName)
        }
        if items.count >= 6, case .tuple = items[5] {
            throw TorchFileError.invalidTensor(path: path, reason: "storage views (PyTorch < 0.4 files) are not supported")
        }
        return (dtype, key, count)
    }

    // MARK: - legacy stream (torch.save before 1.6)

    /// The legacy stream: five pickles (magic number, protocol version, system info, the object,
    /// the list of storage keys), then for each key in that list an int64 element count and the
    /// raw little-endian elements.
    private static func readLegacy(_ data: Data, path: String, limits: PickleMachine.Limits) throws -> PickleValue {
        // Pickle 1 is the 10-byte integer 0x1950a86a20f9469cfc6c (protocol 2), matched literally.
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        guard data.count > magic.count, data.prefix(magic.count).elementsEqual(magic) else {
            throw TorchFileError.malformedArchive(path: path, reason: "neither a zip file nor a legacy torch.save file")
        }
        let header = PickleMachine(path: path, limits: limits) { _ in
            throw TorchFileError.malformedPickle(path: path, reason: "persistent id in a header pickle", offset: 0)
        }
        let (version, afterVersion) = try header.load(data, from: magic.count)
        guard case .int(1001) = version else { throw TorchFileError.malformedArchive(path: path, reason: "legacy protocol version is not 1001") }
        let (info, afterInfo) = try header.load(data, from: afterVersion)
        if case let .dict(d) = info, case .bool(false)? = d["little_endian"] {
            throw TorchFileError.malformedArchive(path: path, reason: "saved on a big-endian machine")
        }
        var storages: [String: TorchStorage] = [:]
        let objects = PickleMachine(path: path, limits: limits) { pid in
            let (dtype, key, count) = try storageReference(pid, path: path)
            if let known = storages[key] {
                guard known.dtype == dtype, known.count == count else {
                    throw TorchFileError.invalidTensor(path: path, reason: "storage '\(key)' is declared twice differently")
                }
                return .storage(known)
            }
            let (_, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, count <= data.count else {
                throw TorchFileError.invalidTensor(path: path, reason: "storage '\(key)' declares \(count) elements, more than the file holds")
            }
            let storage = TorchStorage(key: key, dtype: dtype, count: count, bytes: Data())
            storages[key] = storage
            return .storage(storage)
        }
        let (root, afterObject) = try objects.load(data, from: afterInfo)
        let (keyList, afterKeys) = try header.load(data, from: afterObject)
        guard case let .list(keys) = keyList else { throw TorchFileError.malformedArchive(path: path, reason: "the storage key list is missing") }
        var cursor = afterKeys
        let reader = ByteReader(data: data)
        for item in keys.items {
            guard case let .string(key) = item, let storage = storages[key] else {
                throw TorchFileError.malformedArchive(path: path, reason: "storage key list names a storage no tensor uses")
            }
            let count = reader.u64(cursor)
            guard count == storage.count else {
                throw TorchFileError.invalidTensor(path: path, reason: "storage '\(key)' declares \(storage.count) elements but its data block has \(count)")
            }
            let size = count * storage.dtype.byteSize
            guard size <= data.count - cursor - 8 else { throw TorchFileError.missingStorage(path: path, key: key) }
            storage.bytes = data[(data.startIndex + cursor + 8)..<(data.startIndex + cursor + 8 + size)]
            cursor += 8 + size
        }
        for (key, storage) in storages where storage.bytes.count != storage.count * storage.dtype.byteSize {
            throw TorchFileError.missingStorage(path: path, key: key)
        }
        return root
    }

    // MARK: - tensors by dotted name

    private static func collectTensors(_ value: PickleValue, prefix: String, depth: Int, path: String,
                                       into found: inout [(String, TorchTensor)]) throws {
        guard depth <= maximumNesting else {
            throw TorchFileError.limitExceeded(path: path, what: "the nesting depth of the pickled object", value: depth, limit: maximumNesting)
        }
        func child(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }
        switch value {
        case let .tensor(t): found.append((prefix, t))
        case let .dict(d):
            for (k, v) in zip(d.keys, d.values) {
                guard case let .string(key) = k else { continue }
                try collectTensors(v, prefix: child(key), depth: depth + 1, path: path, into: &found)
            }
        case let .object(o):
            for (k, v) in zip(o.attributes.keys, o.attributes.values) {
                guard case let .string(key) = k else { continue }
                try collectTensors(v, prefix: child(key), depth: depth + 1, path: path, into: &found)
            }
        default: break
        }
    }
}
