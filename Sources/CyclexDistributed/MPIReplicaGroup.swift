import CyclexEngine
import CyclexTraining
import Foundation

/// The ranks of `MPI_COMM_WORLD` as the replicas of a data-parallel run, and the gradient reducer
/// of each rank's recipe (`docs/distributed.md`). Every call is a collective over all ranks.
public final class MPIReplicaGroup: ReplicaGroup, GradientReducer {
    let mpi: MPILibrary
    public let rank: Int
    public let size: Int
    public private(set) var share: BatchShare?
    /// Every rank's sample count in the current step (from `beginStep`).
    private var stepSamples: [Int] = []
    /// The fused gradient buffer, reused by every optimiser's reduction (grown as needed).
    private var fused: [Float] = []
    /// Counters for the scaling measurements (`docs/distributed.md#measurements`).
    public private(set) var statistics = Statistics()

    public struct Statistics: Sendable {
        /// Steps begun with every rank holding a batch.
        public var steps = 0
        /// `MPI_Allreduce` calls on gradient buffers, their bytes and wall time in seconds.
        public var gradientCalls = 0, gradientBytes = 0, gradientSeconds = 0.0
        /// With `CYCLEX_MPI_PROFILE=1`: seconds spent in an `MPI_Barrier` before each gradient
        /// reduction, i.e. waiting for the slowest rank, so that `gradientSeconds` is the transfer alone.
        public var gradientWaitSeconds = 0.0
        /// All other collectives per step (counts, λ statistics and losses, pools, checksums).
        public var otherCalls = 0, otherBytes = 0, otherSeconds = 0.0
    }

    /// `CYCLEX_MPI_PROFILE=1`: split the time of each gradient reduction into waiting and transfer.
    let profiles = ProcessInfo.processInfo.environment["CYCLEX_MPI_PROFILE"] == "1"

    /// Loads libmpi, initialises MPI and reads this process's rank and the number of ranks.
    public init() throws {
        mpi = try MPILibrary()
        var provided: Int32 = 0
        try mpi.check(mpi.initThread(nil, nil, MPILibrary.threadFunneled, &provided), "MPI_Init_thread")
        var value: Int32 = 0
        try mpi.check(mpi.commRank(mpi.commWorld, &value), "MPI_Comm_rank")
        rank = Int(value)
        try mpi.check(mpi.commSize(mpi.commWorld, &value), "MPI_Comm_size")
        size = Int(value)
    }

    public var reducer: any GradientReducer { self }
    public var libraryPath: String { mpi.path }

    /// Ends MPI after a run every rank finished.
    public func finalize() { _ = mpi.finalize() }

    /// Ends the whole job (every rank) with `code`: one rank's error must not leave the others
    /// waiting in a collective forever.
    public func abort(_ code: Int32) -> Never {
        _ = mpi.abort(mpi.commWorld, code)
        exit(code)
    }

    private func timed<T>(_ bytes: Int, gradient: Bool, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if gradient {
                statistics.gradientCalls += 1; statistics.gradientBytes += bytes; statistics.gradientSeconds += seconds
            } else {
                statistics.otherCalls += 1; statistics.otherBytes += bytes; statistics.otherSeconds += seconds
            }
        }
        return try body()
    }

    /// In-place sum of `count` floats over all ranks, in pieces MPI's `int` counts can address.
    private func sumInPlace(_ base: UnsafeMutablePointer<Float>, count: Int) throws {
        var offset = 0
        while offset < count {
            let piece = min(count - offset, Int(Int32.max))
            try mpi.check(mpi.allreduce(MPILibrary.inPlace, base + offset, Int32(piece), mpi.float, mpi.sum, mpi.commWorld),
                          "MPI_Allreduce")
            offset += piece
        }
    }

    // MARK: - GradientReducer

    public func reduceGradients(_ parameters: [Tensor]) throws {
        let weight = share?.weight ?? 1
        let gradients = parameters.compactMap(\.gradient)
        let total = gradients.reduce(0) { $0 + $1.count }
        if fused.count < total { fused = [Float](repeating: 0, count: total) }
        try fused.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            var offset = 0
            for g in gradients {
                let source = g.pointer
                for i in 0..<g.count { base[offset + i] = source[i] * weight }
                offset += g.count
            }
            if profiles {
                let start = DispatchTime.now().uptimeNanoseconds
                try mpi.check(mpi.barrier(mpi.commWorld), "MPI_Barrier")
                statistics.gradientWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            try timed(total * 4, gradient: true) { try sumInPlace(base, count: total) }
            offset = 0
            for g in gradients {
                g.pointer.update(from: base + offset, count: g.count)
                offset += g.count
            }
        }
    }

    public func averaged(_ values: [Float]) throws -> [Float] {
        let weight = share?.weight ?? 1
        var buffer = values.map { $0 * weight }
        try timed(buffer.count * 4, gradient: false) {
            try buffer.withUnsafeMutableBufferPointer { try sumInPlace($0.baseAddress!, count: $0.count) }
        }
        return buffer
    }

    public func gathered(_ batch: Tensor) throws -> Tensor {
        let rows = batch.shape[0], perRow = batch.count / max(rows, 1)
        let sizes = try allGather(UInt64(perRow))
        guard sizes.allSatisfy({ $0 == sizes[0] }) else {
            throw ReplicaError.inconsistent(
                "the ranks' images differ in size (\(sizes.map(String.init).joined(separator: ", ")) values per image); "
                    + "with --mpi use a --preprocess that gives every image the training size")
        }
        guard let share, stepSamples.count == size, stepSamples[rank] == rows else {
            throw ReplicaError.inconsistent("gathered a batch of \(rows) rows outside a step's share")
        }
        let counts = stepSamples.map { Int32($0 * perRow) }
        var displacements: [Int32] = [0]
        for c in counts.dropLast() { displacements.append(displacements.last! + c) }
        let out = Tensor(uninitializedShape: [share.total] + batch.shape.dropFirst())
        try timed(out.count * 4, gradient: false) {
            try mpi.check(mpi.allgatherv(batch.pointer, Int32(batch.count), mpi.float, out.pointer, counts, displacements,
                                         mpi.float, mpi.commWorld), "MPI_Allgatherv")
        }
        return out
    }

    // MARK: - ReplicaGroup

    public func beginStep(samples: Int, itemsConsumed: Int) throws -> [(samples: Int, itemsConsumed: Int)] {
        var local: [UInt64] = [UInt64(samples), UInt64(itemsConsumed)]
        var all = [UInt64](repeating: 0, count: 2 * size)
        try timed(16 * size, gradient: false) {
            try mpi.check(mpi.allgather(&local, 2, mpi.uint64, &all, 2, mpi.uint64, mpi.commWorld), "MPI_Allgather")
        }
        let shares = (0..<size).map { (samples: Int(all[2 * $0]), itemsConsumed: Int(all[2 * $0 + 1])) }
        if shares.allSatisfy({ $0.samples > 0 }) {
            statistics.steps += 1
            stepSamples = shares.map(\.samples)
            let offset = shares[..<rank].reduce(0) { $0 + $1.samples }
            share = BatchShare(offset: offset, count: samples, total: shares.reduce(0) { $0 + $1.samples })
        }
        return shares
    }

    public func broadcast(_ data: Data) throws -> Data {
        var count = UInt64(data.count)
        try mpi.check(mpi.bcast(&count, 1, mpi.uint64, 0, mpi.commWorld), "MPI_Bcast")
        var bytes = rank == 0 ? [UInt8](data) : [UInt8](repeating: 0, count: Int(count))
        // Once per launch (the start), so not counted in the per-step statistics.
        try bytes.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let piece = min(raw.count - offset, Int(Int32.max))
                    try mpi.check(mpi.bcast(raw.baseAddress! + offset, Int32(piece), mpi.byte, 0, mpi.commWorld), "MPI_Bcast")
                    offset += piece
                }
        }
        return Data(bytes)
    }

    public func allGather(_ value: UInt64) throws -> [UInt64] {
        var local = value
        var all = [UInt64](repeating: 0, count: size)
        try timed(8 * size, gradient: false) {
            try mpi.check(mpi.allgather(&local, 1, mpi.uint64, &all, 1, mpi.uint64, mpi.commWorld), "MPI_Allgather")
        }
        return all
    }
}

extension MPIReplicaGroup {
    /// One line on the collectives of this launch (rank 0's view), for the scaling measurements.
    public var statisticsLine: String {
        let s = statistics, steps = max(s.steps, 1)
        return "mpi: \(size) ranks (\(libraryPath)), " + String(format: "%d steps; gradient MPI_Allreduce %d calls, %.2f MB and %.2f ms per step; "
                          + "other collectives %d calls, %.3f MB and %.2f ms per step",
                      s.steps, s.gradientCalls, Double(s.gradientBytes) / 1e6 / Double(steps),
                      s.gradientSeconds * 1e3 / Double(steps), s.otherCalls, Double(s.otherBytes) / 1e6 / Double(steps),
                      s.otherSeconds * 1e3 / Double(steps))
            + (profiles ? String(format: "; waiting for the slowest rank before them %.2f ms per step", s.gradientWaitSeconds * 1e3 / Double(steps)) : "")
    }
}
