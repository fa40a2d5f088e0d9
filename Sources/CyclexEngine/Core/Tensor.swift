/// A dense float32 tensor, row-major (NCHW for images), with reverse-mode autodiff.
///
/// A `Tensor` is a reference: ops return new tensors and never modify their inputs, so many
/// tensors may share one `TensorStorage` (reshapes, detached copies). Only optimizers and
/// gradient accumulation write in place, and only into parameters and their gradients.
public final class Tensor {
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements (the product of `shape`).
    public let count: Int
    public let storage: TensorStorage

    /// Whether gradients flow to (leaf) or through (interior) this tensor.
    public var requiresGradient: Bool
    /// The accumulated gradient of a leaf after `backward()`; same shape as the tensor.
    public var gradient: Tensor?
    /// This tensor's place in the recorded graph (`graphVertex`), once it took part in a recorded op.
    var vertex: GraphVertex?

    /// Wraps existing storage (no copy).
    public init(shape: [Int], storage: TensorStorage, requiresGradient: Bool = false) {
        let n = shape.reduce(1, *)
        precondition(storage.count >= n, "storage of \(storage.count) floats is too small for shape \(shape)")
        self.shape = shape
        self.count = n
        self.storage = storage
        self.requiresGradient = requiresGradient
    }

    /// A tensor with uninitialised contents; every element must be written before it is read.
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *)))
    }

    /// A tensor holding `scalars` in row-major order.
    public convenience init(shape: [Int], scalars: [Float], requiresGradient: Bool = false) {
        let n = shape.reduce(1, *)
        precondition(scalars.count == n, "\(scalars.count) values do not fill shape \(shape) (\(n) elements)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { source in
            if n > 0 { pointer.update(from: source.baseAddress!, count: n) }
        }
        self.requiresGradient = requiresGradient
    }

    /// A tensor with every element equal to `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGradient: Bool = false) {
        self.init(uninitializedShape: shape)
        pointer.update(repeating: value, count: count)
        self.requiresGradient = requiresGradient
    }

    /// A zero-filled tensor.
    public convenience init(zeros shape: [Int], requiresGradient: Bool = false) {
        self.init(repeating: 0, shape: shape, requiresGradient: requiresGradient)
    }

    /// A scalar (0-d) tensor.
    public convenience init(_ value: Float) { self.init(shape: [], scalars: [value]) }

    /// Elements drawn from U(lowerBound, upperBound).
    public convenience init(
        randomUniform shape: [Int], lowerBound: Float = 0, upperBound: Float = 1,
        using generator: inout RandomGenerator
    ) {
        self.init(uninitializedShape: shape)
        let p = pointer
        let width = upperBound - lowerBound
        for i in 0..<count { p[i] = lowerBound + width * generator.nextUniformFloat() }
    }

    /// Elements drawn from N(mean, standardDeviation²).
    public convenience init(
        randomNormal shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        using generator: inout RandomGenerator
    ) {
        self.init(uninitializedShape: shape)
        let p = pointer
        var i = 0
        while i < count {
            let (a, b) = generator.nextNormalPair()
            p[i] = mean + standardDeviation * Float(a)
            if i + 1 < count { p[i + 1] = mean + standardDeviation * Float(b) }
            i += 2
        }
    }

    /// The first element of the storage.
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// A copy of the elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, shape is \(shape)")
        return pointer[0]
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// A new tensor with the same values and its own storage, outside any graph.
    public func copy() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    /// The same values (shared storage) without gradient history: gradients stop here.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Overwrites the elements with `other`'s (same element count). For parameters and buffers.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: \(other.shape) does not match \(shape)")
        if other.storage !== storage { pointer.update(from: other.pointer, count: count) }
    }

    /// Overwrites the elements with `values`.
    public func assign(_ values: [Float]) {
        precondition(values.count == count, "assign: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// Whether the tensor has a recorded history (it is not a leaf).
    public var hasHistory: Bool { gradNode != nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
