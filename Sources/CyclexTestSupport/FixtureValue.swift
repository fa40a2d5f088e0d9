import Foundation

/// One value of a fixture's JSON metadata, remembering where it came from so that a missing or
/// mistyped entry fails with the fixture and key path (`models/xai_generator: metadata
/// config.ngf is missing`) instead of a crash.
///
/// `fixture.config["ResnetGenerator"]["ngf"].int()`; subscripts never fail, the typed readers do.
public struct FixtureValue {
    let value: JSONValue?
    /// Dotted key path from the metadata root, e.g. "config.cases.k3s1p1".
    public let path: String
    let fixture: String

    init(_ value: JSONValue?, path: String, fixture: String) {
        self.value = value
        self.path = path
        self.fixture = fixture
    }

    public subscript(_ key: String) -> FixtureValue {
        guard case .object(let members) = value else {
            return FixtureValue(nil, path: path.isEmpty ? key : "\(path).\(key)", fixture: fixture)
        }
        return FixtureValue(members[key], path: path.isEmpty ? key : "\(path).\(key)", fixture: fixture)
    }

    public subscript(_ index: Int) -> FixtureValue {
        guard case .array(let items) = value, index >= 0, index < items.count else {
            return FixtureValue(nil, path: "\(path)[\(index)]", fixture: fixture)
        }
        return FixtureValue(items[index], path: "\(path)[\(index)]", fixture: fixture)
    }

    /// Whether the key is present (and not JSON null).
    public var exists: Bool {
        if case .some(.null) = value { return false }
        return value != nil
    }

    func problem(_ text: String) -> FixtureError { .badMetadata(fixture: fixture, key: path, problem: text) }

    func typed<T>(_ kind: String, _ convert: (JSONValue) -> T?) throws -> T {
        guard let value, exists else { throw problem("is missing") }
        guard let v = convert(value) else { throw problem("is not \(kind): \(value)") }
        return v
    }

    public func int() throws -> Int {
        try typed("an integer") { v in
            guard case .number(let x) = v, x == x.rounded(), abs(x) < 1e15 else { return nil }
            return Int(x)
        }
    }

    public func double() throws -> Double {
        try typed("a number") { v in
            guard case .number(let x) = v else { return nil }
            return x
        }
    }

    public func float() throws -> Float { Float(try double()) }

    public func bool() throws -> Bool {
        try typed("a boolean") { v in
            guard case .bool(let b) = v else { return nil }
            return b
        }
    }

    public func string() throws -> String {
        try typed("a string") { v in
            guard case .string(let s) = v else { return nil }
            return s
        }
    }

    public func array() throws -> [FixtureValue] {
        let count = try typed("an array") { v -> Int? in
            guard case .array(let items) = v else { return nil }
            return items.count
        }
        return (0..<count).map { self[$0] }
    }

    public func ints() throws -> [Int] { try array().map { try $0.int() } }

    public func doubles() throws -> [Double] { try array().map { try $0.double() } }

    public func floats() throws -> [Float] { try array().map { try $0.float() } }

    public func strings() throws -> [String] { try array().map { try $0.string() } }

    /// The keys of an object, sorted (JSON objects have no order).
    public func keys() throws -> [String] {
        try typed("an object") { v in
            guard case .object(let members) = v else { return nil }
            return members.keys.sorted()
        }
    }

    /// `(key, value)` pairs of an object, sorted by key.
    public func entries() throws -> [(key: String, value: FixtureValue)] { try keys().map { ($0, self[$0]) } }
}

/// A decoded JSON value. Decoded with `JSONDecoder`, which keeps `true` and `1` apart (Foundation's
/// `JSONSerialization` gives both as `NSNumber` on Linux).
public enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let b = try? container.decode(Bool.self) { self = .bool(b) }
        else if let x = try? container.decode(Double.self) { self = .number(x) }
        else if let s = try? container.decode(String.self) { self = .string(s) }
        else if let a = try? container.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let x): "\(x)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}
