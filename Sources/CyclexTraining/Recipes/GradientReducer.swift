import CyclexEngine

/// This replica's rows of a step's global batch: rows `offset ..< offset + count` of `total`
/// (`docs/distributed.md#semantics`). In one process `offset` is 0 and `count == total`.
public struct BatchShare: Equatable, Sendable {
    public let offset: Int
    public let count: Int
    public let total: Int

    public init(offset: Int, count: Int, total: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= total, "share \(offset)+\(count) outside \(total) rows")
        self.offset = offset; self.count = count; self.total = total
    }

    /// The whole batch of `count` rows (one process).
    public static func whole(_ count: Int) -> BatchShare { BatchShare(offset: 0, count: count, total: count) }

    /// This replica's fraction of the global batch, n_r / n.
    public var weight: Float { Float(count) / Float(total) }
}

/// How a training step combines with the other replicas of a data-parallel run: the seam between
/// the recipes and `CyclexDistributed` (`docs/distributed.md#the-seam`).
///
/// Every loss a recipe minimises is a mean over its batch with equal weight per sample, so the
/// gradient of the mean over the global batch is Σ_r (n_r / n)·g_r: each replica's gradient
/// weighted by its share of the samples, summed. Recipes call `reduceGradients` once per optimiser
/// step, after backward and the finite check and immediately before `Adam.step()`; the other
/// members cover what else in a step depends on the whole batch (λ's loss statistics, the image
/// pools, batch-shaped random draws). All replicas must make the same calls in the same order.
public protocol GradientReducer: AnyObject {
    /// This replica's rows of the current step's global batch (set by the trainer before each
    /// step); nil in one process, where the local batch is the global one.
    var share: BatchShare? { get }

    /// Replaces each parameter's gradient by the sample-weighted mean over all replicas, through
    /// one contiguous buffer for the whole list (not one exchange per tensor). Parameters without
    /// a gradient are left out (they are the same on every replica: the same graph ran).
    func reduceGradients(_ parameters: [Tensor]) throws

    /// Sample-weighted means Σ_r (n_r / n)·x_r of per-replica batch statistics, e.g. a loss that is
    /// a mean over the local batch becomes the mean over the global batch.
    func averaged(_ values: [Float]) throws -> [Float]

    /// Every replica's `[n_r, …]` batch concatenated along axis 0 in rank order: `[n, …]`.
    func gathered(_ batch: Tensor) throws -> Tensor
}

extension GradientReducer {
    /// A tensor shaped like the global batch (`[n, …]` for a local `[n_r, …]` shape) drawn from a
    /// stream every replica holds in the same state, cut to this replica's rows: every replica
    /// draws what one process with the global batch would, and the stream stays replicated.
    public func localRows(ofGlobalDraw localShape: [Int], _ draw: ([Int]) -> Tensor) -> Tensor {
        guard let s = share, s.count != s.total else { return draw(localShape) }
        precondition(localShape.first == s.count, "batch of \(localShape.first ?? 0) rows, share has \(s.count)")
        return draw([s.total] + localShape.dropFirst()).rows(s.offset, count: s.count)
    }

    /// `pool`'s answer for this replica's fakes when the pool is replicated: every replica feeds
    /// the whole global batch of fakes, in rank order, to its copy of the pool (same contents, same
    /// stream, same draws as one process with the global batch) and keeps its own rows of the answer.
    func pooled(_ pool: ImagePool, _ fakes: Tensor) throws -> Tensor {
        guard pool.capacity > 0, let s = share, s.count != s.total else { return pool.query(fakes) }
        return pool.query(try gathered(fakes)).rows(s.offset, count: s.count)
    }
}

extension Tensor {
    /// Rows `start ..< start + count` along axis 0, copied (no gradient history).
    func rows(_ start: Int, count: Int) -> Tensor {
        let per = self.count / shape[0]
        let out = Tensor(uninitializedShape: [count] + shape.dropFirst())
        out.pointer.update(from: pointer + start * per, count: count * per)
        return out
    }
}

/// The reducer of a single process: its batch is the global batch, and every operation is the
/// identity, so a one-process step computes exactly what it did before the seam existed.
public final class SingleProcessReducer: GradientReducer {
    public var share: BatchShare? { nil }

    public init() {}

    public func reduceGradients(_ parameters: [Tensor]) throws {}
    public func averaged(_ values: [Float]) throws -> [Float] { values }
    public func gathered(_ batch: Tensor) throws -> Tensor { batch }
}
