import Foundation

/// Builders for hand-made pickles and zip files, so every refusal path can be reached.
enum Crafted {
    static let proto2: [UInt8] = [0x80, 0x02]

    static func string(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + le32(b.count) + b
    }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func int(_ v: Int) -> [UInt8] { [0x4A] + le32(v) }
    static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }
    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// `{name: _rebuild_tensor_v2(storage(key, count), offset, shape, stride, False, OrderedDict())}` as torch.save writes it.
    static func stateDict(name: String = "w", storageClass: String = "FloatStorage", key: String = "0", count: Int,
                          offset: Int = 0, shape: [Int], stride: [Int]) -> [UInt8] {
        let pid = tuple([string("storage"), global("torch", storageClass), string(key), string("cpu"), int(count)]) + [0x51]
        let args = tuple([pid, int(offset), tuple(shape.map(int)), tuple(stride.map(int)), [0x89],
                          global("collections", "OrderedDict") + [0x29, 0x52]])
        let tensor = global("torch._utils", "_rebuild_tensor_v2") + args + [0x52]
        return proto2 + global("collections", "OrderedDict") + [0x29, 0x52] + string(name) + tensor + [0x73, 0x2E]
    }

    static func floats(_ values: [Float]) -> Data {
        var v = values
        return Data(bytes: &v, count: v.count * 4)
    }

    /// A stored (uncompressed) zip with correct CRCs.
    /// `deflatedClaim`: mark the entries as deflated and declare this uncompressed size (a lie, for refusal tests).
    static func zip(_ entries: [(String, Data)], deflatedClaim: Int? = nil) -> Data {
        var out = Data(), central = Data()
        let method = deflatedClaim == nil ? 0 : 8
        for (name, bytes) in entries {
            let offset = out.count
            let crc = crc32(bytes)
            let nameBytes = Array(name.utf8)
            let declared = deflatedClaim ?? bytes.count
            out.append(contentsOf: le32(0x0403_4B50) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(Int(crc))
                       + le32(bytes.count) + le32(declared) + le16(nameBytes.count) + le16(0) + nameBytes)
            out.append(bytes)
            central.append(contentsOf: le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0)
                           + le32(Int(crc)) + le32(bytes.count) + le32(declared) + le16(nameBytes.count) + le16(0)
                           + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes)
        }
        let directoryOffset = out.count
        out.append(central)
        out.append(contentsOf: le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
                   + le32(central.count) + le32(directoryOffset) + le16(0))
        return out
    }

    /// A torch.save-like archive: `archive/data.pkl` plus `archive/data/<key>` storages.
    static func torchZip(pickle: [UInt8], storages: [(String, Data)]) -> Data {
        zip([("archive/data.pkl", Data(pickle))] + storages.map { ("archive/data/\($0.0)", $0.1) }
            + [("archive/version", Data("3\n".utf8))])
    }

    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
