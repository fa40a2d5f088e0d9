import Foundation

/// A pickle interpreter for untrusted PyTorch files that never executes anything.
///
/// It implements only the opcodes a `torch.save` state dict or a TorchScript `data.pkl` uses
/// (protocols 2–4: containers, ints, floats, strings, memo, MARK, GLOBAL, REDUCE, NEWOBJ, BUILD,
/// BINPERSID). Every other opcode is refused by name. `GLOBAL` resolves only names on an
/// allow-list, and "calling" one of them is a fixed Swift interpretation:
/// - `collections.OrderedDict()` → an empty dict;
/// - `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` → a validated strided view;
/// - `torch._utils._rebuild_parameter(tensor, ...)` → the tensor;
/// - `torch.<X>Storage` → only as the type inside a storage's persistent id;
/// - `__torch__.<module> <Class>` (TorchScript modules, when `allowsTorchScriptClasses`) →
///   an attribute holder filled by BUILD;
/// - `torch.jit._pickle.build_intlist(list)` (and the double/bool versions; TorchScript only) → the list.
/// Sizes are checked against the bytes left before anything is allocated; the stack, memo and
/// collections are bounded.
public struct PickleMachine {
    public struct Limits: Sendable {
        public var stackDepth = 1_000_000
        public var memoEntries = 1_000_000
        public var tensorElements = 1 << 31
        public init() {}
    }

    let path: String
    let limits: Limits
    let allowsTorchScriptClasses: Bool
    /// Resolves a persistent id (the tuple `('storage', type, key, location, count[, view])`).
    let persistentLoad: (PickleValue) throws -> PickleValue

    public init(path: String, limits: Limits = Limits(), allowsTorchScriptClasses: Bool = false,
                persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.path = path; self.limits = limits
        self.allowsTorchScriptClasses = allowsTorchScriptClasses
        self.persistentLoad = persistentLoad
    }

    /// Runs the pickle starting at `start` in `bytes`; returns the value at STOP and the offset after it.
    public func load(_ bytes: Data, from start: Int = 0) throws -> (value: PickleValue, end: Int) {
        try bytes.withUnsafeBytes { raw in try run(raw, start: start) }
    }

    // MARK: - The interpreter

    private func run(_ raw: UnsafeRawBufferPointer, start: Int) throws -> (value: PickleValue, end: Int) {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        var position = start
        var opcodeOffset = start

        func malformed(_ reason: String) -> TorchFileError { .malformedPickle(path: path, reason: reason, offset: opcodeOffset) }
        func take(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n >= 0, n <= raw.count - position else { throw malformed("truncated: \(n) bytes needed, \(raw.count - position) left") }
            defer { position += n }
            return UnsafeRawBufferPointer(rebasing: raw[position..<(position + n)])
        }
        func uint(_ n: Int) throws -> Int {
            let b = try take(n)
            var v = 0
            for i in (0..<n).reversed() { v = v << 8 | Int(b[i]) }
            return v
        }
        func line() throws -> String {
            var end = position
            while end < raw.count && raw[end] != 0x0A { end += 1 }
            guard end < raw.count, end - position <= 256 else { throw malformed("GLOBAL name is unterminated or longer than 256 bytes") }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: raw[position..<end]), as: UTF8.self)
            position = end + 1
            return text
        }
        func push(_ v: PickleValue) throws {
            guard stack.count < limits.stackDepth else {
                throw TorchFileError.limitExceeded(path: path, what: "the pickle stack depth", value: stack.count + 1, limit: limits.stackDepth)
            }
            stack.append(v)
        }
        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw malformed("stack underflow") }
            if let m = marks.last, stack.count < m { throw malformed("popped past a MARK") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast() else { throw malformed("no MARK on the stack") }
            guard m <= stack.count else { throw malformed("MARK beyond the stack") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        func top() throws -> PickleValue {
            guard let v = stack.last, stack.count > (marks.last ?? 0) || marks.isEmpty else { throw malformed("stack underflow") }
            return v
        }
        func memoize(_ index: Int) throws {
            guard index >= 0 else { throw malformed("negative memo index") }
            guard memo[index] != nil || memo.count < limits.memoEntries else {
                throw TorchFileError.limitExceeded(path: path, what: "the number of memo entries", value: memo.count + 1, limit: limits.memoEntries)
            }
            memo[index] = try top()
        }
        func recall(_ index: Int) throws {
            guard let v = memo[index] else { throw malformed("memo index \(index) was never stored") }
            try push(v)
        }
        func text(_ n: Int) throws -> String {
            let b = try take(n)
            guard let s = String(validating: b, as: UTF8.self) else { throw malformed("string is not UTF-8") }
            return s
        }

        while true {
            opcodeOffset = position
            guard position < raw.count else { throw malformed("ends before STOP") }
            let op = raw[position]
            position += 1
            switch op {
            case 0x80: // PROTO
                let version = try uint(1)
                guard version <= 5 else { throw malformed("protocol \(version) is unknown") }
            case 0x95: _ = try take(8) // FRAME: only a hint for buffered readers
            case 0x2E: // STOP
                guard marks.isEmpty, stack.count == 1 else { throw malformed("STOP with \(stack.count) values and \(marks.count) MARKs left") }
                return (stack[0], position)
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x29: try push(.tuple([])) // EMPTY_TUPLE
            case 0x74: try push(.tuple(try popMark())) // TUPLE
            case 0x85: try push(.tuple([try pop()])) // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); try push(.tuple([a, b])) // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(.tuple([a, b, c])) // TUPLE3
            case 0x5D: try push(.list(PickleList())) // EMPTY_LIST
            case 0x61: // APPEND
                let v = try pop()
                guard case let .list(l) = try top() else { throw malformed("APPEND to a \(try top().kindName)") }
                l.items.append(v)
            case 0x65: // APPENDS
                let items = try popMark()
                guard case let .list(l) = try top() else { throw malformed("APPENDS to a non-list") }
                l.items.append(contentsOf: items)
            case 0x7D: try push(.dict(PickleDict())) // EMPTY_DICT
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                guard case let .dict(d) = try top() else { throw malformed("SETITEM on a non-dict") }
                d.set(k, v)
            case 0x75: // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of items") }
                guard case let .dict(d) = try top() else { throw malformed("SETITEMS on a non-dict") }
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
            case 0x4E: try push(.none) // NONE
            case 0x88: try push(.bool(true)) // NEWTRUE
            case 0x89: try push(.bool(false)) // NEWFALSE
            case 0x4B: try push(.int(try uint(1))) // BININT1
            case 0x4D: try push(.int(try uint(2))) // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4))))) // BININT
            case 0x8A: // LONG1: little-endian two's complement of n bytes
                let n = try uint(1)
                guard n <= 8 else { throw TorchFileError.limitExceeded(path: path, what: "a LONG1 integer's byte count", value: n, limit: 8) }
                let b = try take(n)
                var v: UInt64 = 0
                for i in (0..<n).reversed() { v = v << 8 | UInt64(b[i]) }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v |= ~0 << UInt64(8 * n) }
                try push(.int(Int(Int64(bitPattern: v))))
            case 0x47: // BINFLOAT: big-endian double
                let b = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
                try push(.float(Double(bitPattern: bits)))
            case 0x58: try push(.string(try text(try uint(4)))) // BINUNICODE
            case 0x8C: try push(.string(try text(try uint(1)))) // SHORT_BINUNICODE
            case 0x55: try push(.string(try text(try uint(1)))) // SHORT_BINSTRING
            case 0x54: try push(.string(try text(try uint(4)))) // BINSTRING
            case 0x43: try push(.bytes(Data(try take(try uint(1))))) // SHORT_BINBYTES
            case 0x42: try push(.bytes(Data(try take(try uint(4))))) // BINBYTES
            case 0x71: try memoize(try uint(1)) // BINPUT
            case 0x72: try memoize(try uint(4)) // LONG_BINPUT
            case 0x94: try memoize(memo.count) // MEMOIZE
            case 0x68: try recall(try uint(1)) // BINGET
            case 0x6A: try recall(try uint(4)) // LONG_BINGET
            case 0x63: // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                try push(try resolveGlobal(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let n = try pop(), m = try pop()
                guard case let .string(module) = m, case let .string(name) = n else { throw malformed("STACK_GLOBAL needs two strings") }
                try push(try resolveGlobal(module: module, name: name))
            case 0x52: // REDUCE callable(*args)
                let args = try pop(), callable = try pop()
                guard case let .tuple(arguments) = args else { throw malformed("REDUCE arguments are a \(args.kindName), not a tuple") }
                try push(try call(callable, arguments))
            case 0x81: // NEWOBJ cls.__new__(cls, *args)
                let args = try pop(), cls = try pop()
                guard case let .global(module, name) = cls, module.hasPrefix("__torch__"), case let .tuple(a) = args, a.isEmpty else {
                    throw malformed("NEWOBJ is only allowed for TorchScript classes with no arguments")
                }
                try push(.object(PickleObject(className: "\(module).\(name)")))
            case 0x62: // BUILD obj.__setstate__(state)
                let state = try pop()
                let target = try top()
                switch (target, state) {
                case let (.object(o), .dict(d)):
                    for (k, v) in zip(d.keys, d.values) { o.attributes.set(k, v) }
                case (.dict, .dict), (.dict, .none):
                    break // OrderedDict state (the state dict's `_metadata` attribute): version numbers only
                case (.tensor, _):
                    break // tensor state (requires_grad flags, hooks): irrelevant to the values
                default:
                    throw malformed("BUILD of a \(target.kindName) with a \(state.kindName)")
                }
            case 0x51: // BINPERSID
                try push(try persistentLoad(try pop()))
            default:
                throw TorchFileError.unsupportedOpcode(path: path, opcode: op, name: Self.opcodeName(op), offset: opcodeOffset)
            }
        }
    }

    // MARK: - Allowed names and their fixed meanings

    private func resolveGlobal(module: String, name: String) throws -> PickleValue {
        let allowed: Bool
        switch (module, name) {
        case ("collections", "OrderedDict"),
             ("torch._utils", "_rebuild_tensor_v2"),
             ("torch._utils", "_rebuild_parameter"):
            allowed = true
        case ("torch", _):
            allowed = TorchDType(storageClass: name) != nil
        case ("torch.jit._pickle", "build_intlist"), ("torch.jit._pickle", "build_doublelist"),
             ("torch.jit._pickle", "build_boollist"):
            allowed = allowsTorchScriptClasses   // TorchScript's typed list attributes (e.g. a conv's padding)
        default:
            // TorchScript modules: `__torch__.a.b Class`, identifiers only.
            allowed = allowsTorchScriptClasses && (module == "__torch__" || module.hasPrefix("__torch__."))
                && (module + "." + name).allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        }
        guard allowed else { throw TorchFileError.disallowedGlobal(path: path, module: module, name: name) }
        return .global(module: module, name: name)
    }

    private func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case let .global(module, name) = callable else {
            throw TorchFileError.malformedPickle(path: path, reason: "REDUCE of a \(callable.kindName)", offset: 0)
        }
        func bad(_ reason: String) -> TorchFileError { .invalidTensor(path: path, reason: "\(name): \(reason)") }
        switch (module, name) {
        case ("collections", "OrderedDict"):
            guard args.isEmpty else { throw bad("OrderedDict is only rebuilt empty") }
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"):
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1] else {
                throw bad("expected (storage, offset, size, stride, ...)")
            }
            let shape = try ints(args[2], what: "size"), strides = try ints(args[3], what: "stride")
            return .tensor(try TorchTensor(storage: storage, offset: offset, shape: shape, strides: strides, path: path,
                                           limit: limits.tensorElements))
        case ("torch.jit._pickle", _):
            guard args.count == 1, case .list = args[0] else { throw bad("expected one list") }
            return args[0]
        case ("torch._utils", "_rebuild_parameter"):
            guard let first = args.first, case .tensor = first else { throw bad("expected a tensor") }
            return first
        default:
            throw TorchFileError.disallowedGlobal(path: path, module: module, name: name)
        }
    }

    private func ints(_ value: PickleValue, what: String) throws -> [Int] {
        guard case let .tuple(items) = value else { throw TorchFileError.invalidTensor(path: path, reason: "\(what) is a \(value.kindName), not a tuple") }
        return try items.map {
            guard case let .int(i) = $0 else { throw TorchFileError.invalidTensor(path: path, reason: "\(what) holds a \($0.kindName)") }
            return i
        }
    }

    /// Names of the opcodes this machine refuses, for error messages.
    static func opcodeName(_ op: UInt8) -> String {
        switch op {
        case 0x49: return "INT"
        case 0x4C: return "LONG"
        case 0x8B: return "LONG4"
        case 0x46: return "FLOAT"
        case 0x53: return "STRING"
        case 0x56: return "UNICODE"
        case 0x8D: return "BINUNICODE8"
        case 0x8E: return "BINBYTES8"
        case 0x96: return "BYTEARRAY8"
        case 0x97: return "NEXT_BUFFER"
        case 0x98: return "READONLY_BUFFER"
        case 0x6C: return "LIST"
        case 0x64: return "DICT"
        case 0x8F: return "EMPTY_SET"
        case 0x90: return "ADDITEMS"
        case 0x91: return "FROZENSET"
        case 0x69: return "INST"
        case 0x6F: return "OBJ"
        case 0x92: return "NEWOBJ_EX"
        case 0x50: return "PERSID"
        case 0x70: return "PUT"
        case 0x67: return "GET"
        case 0x30: return "POP"
        case 0x31: return "POP_MARK"
        case 0x32: return "DUP"
        case 0x82: return "EXT1"
        case 0x83: return "EXT2"
        case 0x84: return "EXT4"
        default: return "unknown"
        }
    }
}
