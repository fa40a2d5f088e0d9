/// The four arithmetic operators as a value, so that elementwise kernels can switch once per call
/// and run a literal (vectorisable) loop, instead of calling an operator closure per element.
public enum BinaryOperator: Sendable {
    case add, subtract, multiply, divide

    /// The operator as a function, for the general broadcasting path.
    @inline(__always)
    public func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        case .divide: a / b
        }
    }
}

extension Kernels {
    /// out[i] = a[i] ∘ b[i] for same-shape operands.
    public static func binary(
        _ op: BinaryOperator, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forRanges(count, minimumChunk: 65_536) { r in
            switch op {
            case .add: for i in r { out[i] = a[i] + b[i] }
            case .subtract: for i in r { out[i] = a[i] - b[i] }
            case .multiply: for i in r { out[i] = a[i] * b[i] }
            case .divide: for i in r { out[i] = a[i] / b[i] }
            }
        }
    }

    /// out[i] = a[i] ∘ s for a scalar right operand.
    public static func binary(
        _ op: BinaryOperator, _ a: UnsafePointer<Float>, scalar s: Float, _ out: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forRanges(count, minimumChunk: 65_536) { r in
            switch op {
            case .add: for i in r { out[i] = a[i] + s }
            case .subtract: for i in r { out[i] = a[i] - s }
            case .multiply: for i in r { out[i] = a[i] * s }
            case .divide: for i in r { out[i] = a[i] / s }
            }
        }
    }
}
