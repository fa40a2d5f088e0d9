import CyclexEngine
import Foundation

/// The replicas of a data-parallel run as the trainer sees them (`docs/distributed.md`); the MPI
/// implementation is `CyclexDistributed.MPIReplicaGroup`. Every member is a collective: all
/// replicas call it at the same point of the run, or the run hangs.
public protocol ReplicaGroup: AnyObject {
    /// This replica's index, 0 ..< `size`; replica 0 alone writes files.
    var rank: Int { get }
    var size: Int { get }
    /// What the recipes combine their steps through.
    var reducer: any GradientReducer { get }

    /// Every replica's (samples in its next batch, plan items its loader has consumed), in rank
    /// order. When no replica's count is 0 it also sets the reducer's share of the step's batch.
    func beginStep(samples: Int, itemsConsumed: Int) throws -> [(samples: Int, itemsConsumed: Int)]
    /// Replica 0's `data` (ignored elsewhere) on every replica.
    func broadcast(_ data: Data) throws -> Data
    /// Every replica's `value`, in rank order.
    func allGather(_ value: UInt64) throws -> [UInt64]
}

/// A data-parallel run that cannot go on.
public enum ReplicaError: LocalizedError {
    case diverged(step: Int, checksums: [UInt64])
    case inconsistent(String)

    public var errorDescription: String? {
        switch self {
        case let .diverged(step, checksums):
            let odd = checksums.indices.filter { checksums[$0] != checksums[0] }
            return "the replicas diverged by step \(step): the parameters and random streams of rank(s) "
                + "\(odd.map(String.init).joined(separator: ", ")) differ from rank 0's (checksums "
                + checksums.map { String($0, radix: 16) }.joined(separator: " ") + "). Nothing was written for "
                + "this step; the last checkpoint holds rank 0's state. Check that every rank runs the same cyclex "
                + "binary on the same kind of CPU, then resume with the same command."
        case let .inconsistent(detail): return detail
        }
    }
}

/// A checksum of everything that must be identical on every replica: parameters, optimiser
/// moments and step counts, the model's and the pools' random streams (FNV-style over 64-bit words).
func replicaChecksum(_ model: any ModelRecipe) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ word: UInt64) { hash = (hash ^ word) &* 0x0000_0100_0000_01b3; hash = (hash << 29) | (hash >> 35) }
    func mix(_ tensor: Tensor) {
        let raw = UnsafeRawPointer(tensor.pointer)
        for i in 0..<(tensor.count / 2) { mix(raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        if tensor.count % 2 == 1 { mix(UInt64(tensor.pointer[tensor.count - 1].bitPattern)) }
    }
    for (_, module) in model.networks { module.parameters.forEach(mix) }
    for (_, optimizer) in model.optimizers {
        optimizer.firstMoments.forEach(mix); optimizer.secondMoments.forEach(mix)
        optimizer.steps.forEach { mix(UInt64($0)) }
    }
    for (_, pool) in model.pools { pool.generator.state.forEach(mix); mix(UInt64(pool.images.count)) }
    model.generator.state.forEach(mix)
    return hash
}
