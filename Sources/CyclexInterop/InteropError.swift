import Foundation

/// Why a PyTorch file was refused. Every case names the file and the problem; nothing in such a
/// file is ever executed, and every size is checked against the bytes actually present before
/// anything is allocated or indexed.
public enum TorchFileError: LocalizedError, Equatable {
    /// The container (zip or legacy stream) is malformed: truncated, inconsistent offsets, ...
    case malformedArchive(path: String, reason: String)
    /// A zip entry uses a compression method other than stored (0) or deflate (8).
    case unsupportedCompression(path: String, entry: String, method: Int)
    /// A zip entry's bytes do not match its CRC-32.
    case checksumMismatch(path: String, entry: String)
    /// The pickle uses an opcode outside the small set a state dict or TorchScript module needs.
    case unsupportedOpcode(path: String, opcode: UInt8, name: String, offset: Int)
    /// The pickle names a callable or class outside the allow-list (state dicts need only
    /// `collections.OrderedDict`, the tensor rebuild functions and the storage types).
    case disallowedGlobal(path: String, module: String, name: String)
    /// The pickle is malformed: stack underflow, missing MARK, bad memo index, truncated, ...
    case malformedPickle(path: String, reason: String, offset: Int)
    /// A size, count or nesting depth exceeds the reader's limits.
    case limitExceeded(path: String, what: String, value: Int, limit: Int)
    /// A tensor refers to a storage the file does not contain.
    case missingStorage(path: String, key: String)
    /// A tensor's offset, sizes or strides reach outside its storage, or the storage's size
    /// does not match its entry.
    case invalidTensor(path: String, reason: String)
    /// The file holds no dictionary of tensors this reader can use.
    case notAStateDict(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .malformedArchive(path, reason): return "\(path): not a readable PyTorch file: \(reason)"
        case let .unsupportedCompression(path, entry, method):
            return "\(path): zip entry '\(entry)' uses compression method \(method) (only stored and deflate are read)"
        case let .checksumMismatch(path, entry): return "\(path): zip entry '\(entry)' is corrupt (CRC-32 mismatch)"
        case let .unsupportedOpcode(path, opcode, name, offset):
            return "\(path): refused: pickle opcode \(name) (0x\(String(opcode, radix: 16))) at byte \(offset) is not allowed in a state dict"
        case let .disallowedGlobal(path, module, name):
            return "\(path): refused: the pickle references \(module).\(name), which a state dict never needs (it is not executed)"
        case let .malformedPickle(path, reason, offset): return "\(path): malformed pickle at byte \(offset): \(reason)"
        case let .limitExceeded(path, what, value, limit): return "\(path): refused: \(what) is \(value), more than the limit \(limit)"
        case let .missingStorage(path, key): return "\(path): tensor storage '\(key)' is missing from the file"
        case let .invalidTensor(path, reason): return "\(path): invalid tensor: \(reason)"
        case let .notAStateDict(path, reason): return "\(path): no tensors found: \(reason)"
        }
    }
}
