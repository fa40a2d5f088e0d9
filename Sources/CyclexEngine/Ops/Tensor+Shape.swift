/// Reshaping and concatenation.
extension Tensor {
    /// The same elements viewed with a new shape (shared storage); one dimension may be -1.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.filter { $0 != -1 }.reduce(1, *)
            resolved[inferred] = count / max(known, 1)
        }
        precondition(resolved.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let out = Tensor(shape: resolved, storage: storage)
        let inputShape = shape
        return Tensor.record(out, name: "reshape", inputs: [self]) { g, _ in
            [Tensor(shape: inputShape, storage: g.storage)]
        }
    }

    /// [N, ...] → [N, rest].
    public func flattened() -> Tensor { reshaped(to: [shape[0], -1]) }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenate(_ tensors: [Tensor], alongAxis axis: Int = 1) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
        let first = tensors[0].shape
        for t in tensors {
            precondition(t.rank == first.count && t.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first[$0.offset] },
                         "concatenate along \(axis): shapes \(tensors.map(\.shape)) do not agree")
        }
        var outShape = first
        outShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: outShape)
        let outRow = outShape[axis] * inner
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            let block = t.shape[axis] * inner
            for o in 0..<outer {
                (out.pointer + o * outRow + offset).update(from: t.pointer + o * block, count: block)
            }
            offset += block
        }
        let shapes = tensors.map(\.shape)
        return record(out, name: "concatenate", inputs: tensors) { g, needs in
            shapes.indices.map { i in
                guard needs[i] else { return nil }
                let block = shapes[i][axis] * inner
                let gi = Tensor(uninitializedShape: shapes[i])
                for o in 0..<outer {
                    (gi.pointer + o * block).update(from: g.pointer + o * outRow + offsets[i], count: block)
                }
                return gi
            }
        }
    }
}
