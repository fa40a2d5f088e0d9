import Foundation
import Synchronization

/// A process-wide free list of float buffers, keyed by element count.
///
/// A training step allocates the same activation and gradient shapes every step, so returning
/// buffers here when a tensor dies and handing them out again on the next request removes heap
/// allocation of tensor data from the steady state. `allocationCount` counts real `malloc`s so
/// the benchmark can show that it stops growing after the first step.
public final class BufferPool: Sendable {
    public static let shared = BufferPool()

    /// Buffers are 64-byte aligned and padded to a multiple of 16 floats.
    static let alignment = 64

    private struct State {
        var free: [Int: [UInt]] = [:]     // rounded count -> addresses (as integers: Sendable)
        var pooledBytes = 0
        var allocations = 0
        var reuses = 0
    }
    private let state = Mutex(State())

    /// Pooled memory above this is released to the system instead of kept (default 3 GB;
    /// `CYCLEX_POOL_MB` sets it, 0 turns pooling off, e.g. to measure the live set's peak).
    public let maximumPooledBytes: Int =
        ProcessInfo.processInfo.environment["CYCLEX_POOL_MB"].flatMap { Int($0) }.map { $0 << 20 } ?? 3 << 30

    static func roundedCount(_ count: Int) -> Int { max(16, (count + 15) & ~15) }

    func take(count: Int) -> UnsafeMutablePointer<Float> {
        let rounded = Self.roundedCount(count)
        let reused: UInt? = state.withLock { s in
            if var list = s.free[rounded], let address = list.popLast() {
                s.free[rounded] = list
                s.pooledBytes -= rounded * 4
                s.reuses += 1
                return address
            }
            s.allocations += 1
            return nil
        }
        if let reused { return UnsafeMutablePointer(bitPattern: reused)! }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: rounded * 4, alignment: Self.alignment)
        return raw.bindMemory(to: Float.self, capacity: rounded)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let rounded = Self.roundedCount(count)
        let address = UInt(bitPattern: pointer)
        let kept = state.withLock { s -> Bool in
            guard s.pooledBytes + rounded * 4 <= maximumPooledBytes else { return false }
            s.free[rounded, default: []].append(address)
            s.pooledBytes += rounded * 4
            return true
        }
        if !kept { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// Releases every pooled buffer (e.g. after changing image size).
    public func drain() {
        let addresses = state.withLock { s -> [UInt] in
            let all = s.free.values.flatMap { $0 }
            s.free = [:]; s.pooledBytes = 0
            return all
        }
        for a in addresses { UnsafeMutableRawPointer(bitPattern: a)!.deallocate() }
    }

    /// Number of buffers obtained from the system allocator so far.
    public var allocationCount: Int { state.withLock { $0.allocations } }
    /// Number of requests served from the pool so far.
    public var reuseCount: Int { state.withLock { $0.reuses } }
}

/// Owns one float buffer. Kernels write disjoint ranges of it from several threads, hence
/// `@unchecked Sendable`; the handle itself is immutable.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Uninitialised storage of `count` floats (from the pool).
    public init(count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(count: count)
    }

    deinit { BufferPool.shared.give(pointer, count: count) }
}
