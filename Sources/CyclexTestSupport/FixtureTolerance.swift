import CyclexEngine
import Testing

/// The fixture tolerance rules, in one place. The generator has already turned each rule of the
/// fixture README (op, value, grad, shap, opt, opt_state, metric, exact) into one absolute number
/// per reference tensor, stored in the file's `atol` metadata; this file only has to read it and
/// apply the two rules that are not a single number:
///
/// * integer tensors (indices, flags, pixels, epochs) must be equal;
/// * `after.<net>.<name>` (parameters after an Adam step) are checked element by element: the
///   file's atol where the reference gradient `grad.<net>.<name>` satisfies |g| >= tau, and 2.05·lr
///   where |g| < tau, with lr and tau from `config.adam_check.<net>`. Adam's first step from zero
///   moments moves every element by about ±lr whatever the size of its gradient, so an element
///   with a tiny (or analytically zero) gradient may legitimately land anywhere in [-lr, lr].
extension Fixture {
    static let integerTypes: Set<String> = ["I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL"]

    /// The tolerance of reference tensor `name`. Throws when the file gives none (an input tensor,
    /// or a name the file does not have).
    public func tolerance(for name: String) throws -> Tolerance {
        if Self.integerTypes.contains(try dtype(name)) { return .exact }
        let atol = try metadata["atol"][name].double()
        guard name.hasPrefix("after.") else { return .absolute(atol) }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        let check = config["adam_check"][parts.count == 3 ? parts[1] : ""]
        guard parts.count == 3, check.exists else { return .absolute(atol) }
        let (lr, tau) = (try check["lr"].double(), try check["tau"].double())
        let gradient = try floats("grad.\(parts[1]).\(parts[2])").values
        return Tolerance(perElement: gradient.map { Double(abs($0)) >= tau ? atol : 2.05 * lr })
    }

    /// The reference values of any dtype as Double, with their shape.
    public func reference(_ name: String) throws -> (shape: [Int], values: [Double]) {
        switch try dtype(name) {
        case "F32": let r = try floats(name); return (r.shape, r.values.map(Double.init))
        case "F64": return try doubles(name)
        case "I64": return (try shape(name), try int64s(name).map(Double.init))
        case "U8", "BOOL": let r = try uint8(name); return (r.shape, r.values.map(Double.init))
        case let other:
            throw FixtureError.unreadable(path: file.path, reason: "tensor \(name): dtype \(other) is not supported here")
        }
    }

    /// Compares without recording anything (for tests that expect a difference).
    public func compare(_ actual: [Double], shape: [Int], with name: String) throws -> Comparison {
        let r = try reference(name)
        return Comparison("\(self.name):\(name)", actual: actual, actualShape: shape, reference: r.values,
                          referenceShape: r.shape, tolerance: try tolerance(for: name))
    }

    public func compare(_ actual: Tensor, with name: String) throws -> Comparison {
        try compare(actual.scalars.map(Double.init), shape: actual.shape, with: name)
    }

    /// Checks `actual` against reference tensor `name` under the file's tolerance for it; a
    /// mismatch is recorded at the caller's line. Throws only when the fixture lacks the tensor or
    /// its tolerance.
    @discardableResult
    public func expectMatch(
        _ actual: [Double], shape: [Int], _ name: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        let c = try compare(actual, shape: shape, with: name)
        if !c.passed { Issue.record(Comment(rawValue: c.description), sourceLocation: sourceLocation) }
        return c.passed
    }

    @discardableResult
    public func expectMatch(_ actual: Tensor, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        try expectMatch(actual.scalars.map(Double.init), shape: actual.shape, name, sourceLocation: sourceLocation)
    }

    /// A scalar against a 0-d reference.
    @discardableResult
    public func expectMatch(_ actual: Float, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        try expectMatch([Double(actual)], shape: [], name, sourceLocation: sourceLocation)
    }

    @discardableResult
    public func expectMatch(_ actual: Double, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        try expectMatch([actual], shape: [], name, sourceLocation: sourceLocation)
    }

    /// Integer results (indices, flags, pixels) against an integer reference: must be equal.
    @discardableResult
    public func expectMatch<I: BinaryInteger>(
        _ actual: [I], shape: [Int], _ name: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        try expectMatch(actual.map { Double($0) }, shape: shape, name, sourceLocation: sourceLocation)
    }
}
