import CyclexEngine
import Testing

/// How far a value may be from its reference: element i passes when
/// `|actual[i] - reference[i]| <= absolute(i) + relative * |reference[i]|`, where `absolute(i)` is
/// `perElement[i]` when given and `absolute` otherwise. NaN never passes; equal infinities do.
public struct Tolerance: CustomStringConvertible, Sendable {
    public var absolute: Double
    public var relative: Double
    /// Element-wise absolute tolerances (same count as the values), replacing `absolute`.
    public var perElement: [Double]?

    public init(absolute: Double = 0, relative: Double = 0, perElement: [Double]? = nil) {
        self.absolute = absolute
        self.relative = relative
        self.perElement = perElement
    }

    /// Bit-for-bit equality (integers, pixels, flags, values that must not change).
    public static let exact = Tolerance()

    public static func absolute(_ atol: Double) -> Tolerance { Tolerance(absolute: atol) }

    public static func relative(_ rtol: Double, absolute atol: Double = 0) -> Tolerance {
        Tolerance(absolute: atol, relative: rtol)
    }

    func bound(_ i: Int, reference: Double) -> Double {
        (perElement?[i] ?? absolute) + (relative == 0 ? 0 : relative * Swift.abs(reference))
    }

    public var description: String {
        if let perElement {
            let values = Set(perElement).sorted()
            let shown = values.prefix(3).map { "\(Float($0))" }.joined(separator: ", ")
            return "element-wise atol {\(shown)\(values.count > 3 ? ", ..." : "")}"
                + (relative > 0 ? " + \(relative)·|ref|" : "")
        }
        if absolute == 0 && relative == 0 { return "exact" }
        if relative == 0 { return "atol \(Float(absolute))" }
        return "atol \(Float(absolute)) + rtol \(relative)·|ref|"
    }
}

/// The outcome of comparing values with a reference of a given shape: whether they pass, the
/// largest difference and where, and the first mismatches with their index per dimension.
public struct Comparison: CustomStringConvertible {
    public struct Mismatch {
        /// One index per dimension of the reference shape.
        public let index: [Int]
        public let actual: Double
        public let reference: Double
        public let allowed: Double
    }

    public let label: String
    public let tolerance: Tolerance
    public let actualShape: [Int]
    public let referenceShape: [Int]
    /// Count of elements outside the tolerance (0 when the shapes differ: nothing was compared).
    public let mismatchCount: Int
    public let firstMismatches: [Mismatch]
    /// Largest |actual − reference| (NaN when any difference is NaN) and its index.
    public let maxDifference: Double
    public let maxDifferenceIndex: [Int]?

    /// How many mismatches the description lists.
    public static let reported = 5

    public var shapesMatch: Bool { actualShape == referenceShape }
    public var passed: Bool { shapesMatch && mismatchCount == 0 && !maxDifference.isNaN }

    /// Compares element by element in Double. Shapes must be equal, dimension by dimension (a
    /// [2, 3] result does not match a [6] reference).
    public init(
        _ label: String, actual: [Double], actualShape: [Int], reference: [Double], referenceShape: [Int],
        tolerance: Tolerance
    ) {
        self.label = label
        self.tolerance = tolerance
        self.actualShape = actualShape
        self.referenceShape = referenceShape
        let count = referenceShape.reduce(1, *)
        guard actualShape == referenceShape, actual.count == count, reference.count == count,
              tolerance.perElement.map({ $0.count == count }) ?? true
        else {
            mismatchCount = 0; firstMismatches = []; maxDifference = .infinity; maxDifferenceIndex = nil
            return
        }
        var worst = 0.0, worstAt: Int?, bad = 0
        var first: [Mismatch] = []
        for i in 0..<count {
            let (a, r) = (actual[i], reference[i])
            let difference = a == r ? 0 : Swift.abs(a - r)  // equal infinities differ by 0, not NaN
            let allowed = tolerance.bound(i, reference: r)
            if a != r && !(difference <= allowed) {
                bad += 1
                if first.count < Self.reported {
                    first.append(Mismatch(index: Self.index(i, in: referenceShape), actual: a, reference: r, allowed: allowed))
                }
            }
            if difference.isNaN {
                if !worst.isNaN { worst = .nan; worstAt = i }
            } else if !worst.isNaN && difference > worst {
                worst = difference; worstAt = i
            }
        }
        mismatchCount = bad
        firstMismatches = first
        maxDifference = worst
        maxDifferenceIndex = worstAt.map { Self.index($0, in: referenceShape) }
    }

    /// The row-major index of flat position `flat` in `shape`.
    public static func index(_ flat: Int, in shape: [Int]) -> [Int] {
        var rest = flat
        var index = [Int](repeating: 0, count: shape.count)
        for d in shape.indices.reversed() where shape[d] > 0 {
            index[d] = rest % shape[d]
            rest /= shape[d]
        }
        return index
    }

    public var description: String {
        if !shapesMatch { return "\(label): shape \(actualShape) but the reference is \(referenceShape)" }
        let count = referenceShape.reduce(1, *)
        let at = maxDifferenceIndex.map { " at \($0)" } ?? ""
        var text = "\(label) \(referenceShape): max |diff| \(Float(maxDifference))\(at), tolerance \(tolerance)"
        if mismatchCount > 0 {
            let listed = firstMismatches.map {
                "\($0.index) \(Float($0.actual)) vs \(Float($0.reference)) (allowed \(Float($0.allowed)))"
            }
            text += "; \(mismatchCount) of \(count) outside, first: " + listed.joined(separator: ", ")
        } else if maxDifference.isNaN {
            text += "; NaN"
        }
        return text
    }
}

extension Comparison {
    public init(_ label: String, actual: Tensor, reference: [Float], referenceShape: [Int], tolerance: Tolerance) {
        self.init(label, actual: actual.scalars.map(Double.init), actualShape: actual.shape,
                  reference: reference.map(Double.init), referenceShape: referenceShape, tolerance: tolerance)
    }
}

/// The one comparison check of the test suite: records an issue at the CALLER's line when the
/// shapes differ or any element is outside `tolerance`; the message gives the largest difference,
/// the per-dimension index of the first mismatches, and the tolerance. Returns whether it passed.
@discardableResult
public func expectClose(
    _ actual: [Double], shape actualShape: [Int], _ reference: [Double], shape referenceShape: [Int],
    tolerance: Tolerance, _ label: String, sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
    let c = Comparison(label, actual: actual, actualShape: actualShape, reference: reference,
                       referenceShape: referenceShape, tolerance: tolerance)
    if !c.passed { Issue.record(Comment(rawValue: c.description), sourceLocation: sourceLocation) }
    return c.passed
}

/// `expectClose` for a tensor against float values of the given shape.
@discardableResult
public func expectClose(
    _ actual: Tensor, _ reference: [Float], shape referenceShape: [Int], tolerance: Tolerance, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
    expectClose(actual.scalars.map(Double.init), shape: actual.shape, reference.map(Double.init), shape: referenceShape,
                tolerance: tolerance, label, sourceLocation: sourceLocation)
}

/// `expectClose` for two tensors (the second is the reference).
@discardableResult
public func expectClose(
    _ actual: Tensor, _ reference: Tensor, tolerance: Tolerance, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
    expectClose(actual, reference.scalars, shape: reference.shape, tolerance: tolerance, label,
                sourceLocation: sourceLocation)
}

/// `expectClose` for plain float arrays of one shape each.
@discardableResult
public func expectClose(
    _ actual: [Float], shape actualShape: [Int], _ reference: [Float], shape referenceShape: [Int],
    tolerance: Tolerance, _ label: String, sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
    expectClose(actual.map(Double.init), shape: actualShape, reference.map(Double.init), shape: referenceShape,
                tolerance: tolerance, label, sourceLocation: sourceLocation)
}
