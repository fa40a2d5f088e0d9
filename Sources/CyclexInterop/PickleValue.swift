import Foundation

/// A value built by `PickleMachine`. Only plain data exists here: no Python object is ever
/// created and no callable is ever run; allowed classes become `PickleObject` attribute holders
/// and allowed rebuild functions become `TorchTensor`s.
public indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function reference from the allow-list (only ever used as an argument to
    /// REDUCE / NEWOBJ or inside a storage's persistent id).
    case global(module: String, name: String)
    case object(PickleObject)
    case storage(TorchStorage)
    case tensor(TorchTensor)

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(module, name): return "\(module).\(name)"
        case let .object(o): return o.className
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// A mutable list (APPEND may grow it after it was memoised).
public final class PickleList {
    public var items: [PickleValue] = []
}

/// An insertion-ordered dictionary (Python dicts and OrderedDicts keep insertion order).
public final class PickleDict {
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    private var stringIndex: [String: Int] = [:]

    public func set(_ key: PickleValue, _ value: PickleValue) {
        if case let .string(s) = key, let i = stringIndex[s] { values[i] = value; return }
        if case let .string(s) = key { stringIndex[s] = keys.count }
        keys.append(key)
        values.append(value)
    }

    public subscript(_ key: String) -> PickleValue? { stringIndex[key].map { values[$0] } }
    public var count: Int { keys.count }
}

/// An instance of an allowed class (TorchScript `__torch__.*` modules): only its attributes.
public final class PickleObject {
    public let className: String
    public var attributes = PickleDict()
    init(className: String) { self.className = className }
}

/// Element types of PyTorch storages.
public enum TorchDType: String, Sendable {
    case float32 = "F32", float64 = "F64", float16 = "F16", bfloat16 = "BF16"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The dtype of a legacy storage class name (`FloatStorage`, ...), as pickled by PyTorch.
    init?(storageClass: String) {
        switch storageClass {
        case "FloatStorage": self = .float32
        case "DoubleStorage": self = .float64
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }
}

/// The raw bytes of one storage (a slice of the file), with its element type.
public final class TorchStorage {
    public let key: String
    public let dtype: TorchDType
    public let count: Int
    /// Exactly `count · dtype.byteSize` bytes (legacy files fill this after the pickle).
    var bytes: Data

    init(key: String, dtype: TorchDType, count: Int, bytes: Data) {
        self.key = key; self.dtype = dtype; self.count = count; self.bytes = bytes
    }
}

/// A strided view of a storage, validated so that every element it addresses lies inside the
/// storage (`offset + Σ (size_i − 1)·stride_i < storage.count`).
public final class TorchTensor {
    public let storage: TorchStorage
    public let offset: Int
    public let shape: [Int]
    public let strides: [Int]

    public var count: Int { shape.reduce(1, *) }

    init(storage: TorchStorage, offset: Int, shape: [Int], strides: [Int], path: String, limit: Int) throws {
        func invalid(_ reason: String) -> TorchFileError { .invalidTensor(path: path, reason: reason) }
        guard shape.count == strides.count else { throw invalid("\(shape.count) sizes but \(strides.count) strides") }
        guard shape.count <= 8 else { throw invalid("rank \(shape.count) is more than 8") }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw invalid("negative offset, size or stride (offset \(offset), sizes \(shape), strides \(strides))")
        }
        var elements = 1
        for s in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: s)
            guard !overflow, product <= limit else {
                throw TorchFileError.limitExceeded(path: path, what: "the element count of a tensor of shape \(shape)", value: overflow ? Int.max : product, limit: limit)
            }
            elements = product
        }
        // A state dict's tensors never address more elements than their storage holds; only a
        // stride-0 (expanded) view could, and it would let a tiny file demand a huge allocation.
        guard elements <= max(storage.count, 1) else {
            throw TorchFileError.limitExceeded(path: path, what: "the element count of a tensor of shape \(shape) (its storage '\(storage.key)' has \(storage.count))",
                                               value: elements, limit: storage.count)
        }
        if elements > 0 {
            var last = offset
            for (s, st) in zip(shape, strides) {
                let (step, o1) = (s - 1).multipliedReportingOverflow(by: st)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw invalid("strides \(strides) overflow") }
                last = sum
            }
            guard last < storage.count else {
                throw invalid("shape \(shape), strides \(strides), offset \(offset) reach element \(last) of storage '\(storage.key)', which has \(storage.count)")
            }
        }
        self.storage = storage; self.offset = offset; self.shape = shape; self.strides = strides
    }

    /// The elements in row-major order, converted to Float (float and integer dtypes).
    public func floats() -> [Float] {
        let n = count
        guard n > 0 else { return [] }
        var result = [Float](repeating: 0, count: n)
        let dtype = storage.dtype
        storage.bytes.withUnsafeBytes { raw in
            func element(_ i: Int) -> Float {
                let at = i * dtype.byteSize
                switch dtype {
                case .float32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case .float64: return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
                case .float16: return Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))))
                case .bfloat16:
                    return Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))) << 16)
                case .int64: return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                case .int32: return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case .int16: return Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                case .int8: return Float(raw.load(fromByteOffset: at, as: Int8.self))
                case .uint8, .bool: return Float(raw.load(fromByteOffset: at, as: UInt8.self))
                }
            }
            // Walk the index space in row-major order, advancing the storage position by strides.
            var index = [Int](repeating: 0, count: shape.count)
            var position = offset
            for i in 0..<n {
                result[i] = element(position)
                var axis = shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    position += strides[axis]
                    if index[axis] < shape[axis] { break }
                    position -= strides[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return result
    }
}
