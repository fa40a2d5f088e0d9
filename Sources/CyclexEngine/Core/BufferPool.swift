import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where tensors' float buffers come from and go back to, process-wide.
///
/// A training step allocates the same activation and gradient shapes every step, so buffers are
/// kept when a tensor dies and handed out again on the next request: heap allocation of tensor
/// data stops after the first step. `allocationCount` counts the requests that found no kept
/// buffer, so the benchmark can show that it stops growing.
///
/// - Buffers of at least `regionMinimumBytes` are carved from one reserved region
///   (`BufferRegion`: first fit, freed neighbours merged), so the memory a phase of the step frees
///   serves the next phase's different sizes, and the resident memory stays near the peak of what
///   is alive at once (xAI-CycleGAN standard at 256 px: 1,281 MB held by exact-size free lists for
///   a live peak of 1,048 MB).
/// - Smaller buffers, and large ones when the region cannot be reserved or is full, are kept in
///   free lists of their exact (16-float-rounded) size.
///
/// `CYCLEX_POOL_REGION=0` keeps every buffer in the exact-size free lists (the old pool, for A/B).
/// Where a buffer comes from never changes a computed value: every buffer is uninitialised.
public final class BufferPool: Sendable {
    public static let shared = BufferPool()

    /// Buffers are 64-byte aligned and padded to a multiple of 16 floats.
    static let alignment = 64
    /// Buffers of at least this many bytes come from the region.
    static let regionMinimumBytes = 256 << 10
    static let pageBytes = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

    private struct State {
        var free: [Int: [UInt]] = [:]     // rounded count -> addresses (as integers: Sendable)
        var pooledBytes = 0
        var allocations = 0
        var reuses = 0
        var regionBlocks = 0
        var region: BufferRegion?
        var usesRegion: Bool
        /// Bytes in tensors now; bytes obtained from the system allocator for the free lists.
        var liveBytes = 0, listBytes = 0
        /// Peaks since `resetPeaks()` (for `statistics`).
        var peakLiveBytes = 0, peakSystemBytes = 0
        var systemBytes: Int { listBytes + (region?.highWater ?? 0) }
        /// With `tracksSizes`: live buffers per size, and copies taken at the live peak.
        var liveBySize: [Int: Int] = [:], liveBySizeAtPeak: [Int: Int] = [:]
    }
    private let state: Mutex<State>

    /// Memory kept in the exact-size free lists above this is released to the system instead
    /// (default 3 GB; `CYCLEX_POOL_MB` sets it, 0 turns that pooling off).
    public let maximumPooledBytes: Int =
        ProcessInfo.processInfo.environment["CYCLEX_POOL_MB"].flatMap { Int($0) }.map { $0 << 20 } ?? 3 << 30
    static let tracksSizes = ProcessInfo.processInfo.environment["CYCLEX_POOL_PEAK_SIZES"] == "1"

    init() {
        // Address space only: as large as the machine's memory (nothing is resident until used).
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Self.pageBytes
        let region = BufferRegion(capacity: min(max(physical, 1 << 30), 1 << 40), granule: Self.pageBytes)
        state = Mutex(State(region: region, usesRegion: ProcessInfo.processInfo.environment["CYCLEX_POOL_REGION"] != "0"))
    }

    /// Whether large buffers are carved from the region (see the type's documentation); settable
    /// for tests and A/B runs. Buffers already given out go back where they came from.
    public var usesRegion: Bool {
        get { state.withLock { $0.usesRegion && $0.region != nil } }
        set { state.withLock { $0.usesRegion = newValue } }
    }

    static func roundedCount(_ count: Int) -> Int { max(16, (count + 15) & ~15) }

    func take(count: Int) -> UnsafeMutablePointer<Float> {
        let rounded = Self.roundedCount(count)
        let address: UInt? = state.withLock { s in
            let fromRegion = s.usesRegion && rounded * 4 >= Self.regionMinimumBytes
            let blockBytes = fromRegion ? s.region!.blockSize(rounded * 4) : rounded * 4
            s.liveBytes += blockBytes
            if Self.tracksSizes { s.liveBySize[blockBytes, default: 0] += 1 }
            if s.liveBytes > s.peakLiveBytes {
                s.peakLiveBytes = s.liveBytes
                if Self.tracksSizes { s.liveBySizeAtPeak = s.liveBySize }
            }
            if fromRegion {
                let touched = s.region!.highWater
                if let p = s.region!.allocate(blockBytes) {
                    if s.region!.highWater > touched { s.allocations += 1 } else { s.reuses += 1 }
                    s.regionBlocks += 1
                    s.peakSystemBytes = max(s.peakSystemBytes, s.systemBytes)
                    return p
                }
                // The region is full: this one comes from the free lists.
                s.liveBytes += rounded * 4 - blockBytes
                if Self.tracksSizes { s.liveBySize[blockBytes, default: 0] -= 1; s.liveBySize[rounded * 4, default: 0] += 1 }
            }
            if var list = s.free[rounded], let address = list.popLast() {
                s.free[rounded] = list
                s.pooledBytes -= rounded * 4
                s.reuses += 1
                return address
            }
            s.allocations += 1
            s.listBytes += rounded * 4
            s.peakSystemBytes = max(s.peakSystemBytes, s.systemBytes)
            return nil
        }
        let raw = address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? UnsafeMutableRawPointer.allocate(byteCount: rounded * 4, alignment: Self.alignment)
        return raw.bindMemory(to: Float.self, capacity: rounded)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let rounded = Self.roundedCount(count)
        let address = UInt(bitPattern: pointer)
        let kept = state.withLock { s -> Bool in
            if let region = s.region, region.contains(address) {
                let blockBytes = region.blockSize(rounded * 4)
                s.liveBytes -= blockBytes
                if Self.tracksSizes { s.liveBySize[blockBytes, default: 0] -= 1 }
                s.region!.free(address, length: blockBytes)
                return true
            }
            s.liveBytes -= rounded * 4
            if Self.tracksSizes { s.liveBySize[rounded * 4, default: 0] -= 1 }
            guard s.pooledBytes + rounded * 4 <= maximumPooledBytes else { s.listBytes -= rounded * 4; return false }
            s.free[rounded, default: []].append(address)
            s.pooledBytes += rounded * 4
            return true
        }
        if !kept { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// Releases every kept buffer (e.g. after changing image size): the free lists' memory and
    /// the region's free pages go back to the system.
    public func drain() {
        let addresses = state.withLock { s -> [UInt] in
            let all = s.free.values.flatMap { $0 }
            s.listBytes -= s.pooledBytes
            s.free = [:]; s.pooledBytes = 0
            s.region?.releaseFreePages()
            return all
        }
        for a in addresses { UnsafeMutableRawPointer(bitPattern: a)!.deallocate() }
    }

    /// Byte counts of the pool at one moment.
    public struct Statistics: Sendable {
        /// In tensors now (region blocks page-rounded); free in the region's holes and the free
        /// lists; obtained from the system (the region's touched pages plus the free lists').
        public var liveBytes, freeBytes, systemBytes: Int
        /// The highest `liveBytes` and `systemBytes` since the last `resetPeaks()`.
        public var peakLiveBytes, peakSystemBytes: Int
        /// Free stretches in the region; blocks it has given out since the start.
        public var regionHoles, regionBlocks: Int
    }

    public var statistics: Statistics {
        state.withLock { s in
            Statistics(liveBytes: s.liveBytes, freeBytes: s.pooledBytes + (s.region.map { $0.holeBytes + $0.highWater - $0.top } ?? 0),
                       systemBytes: s.systemBytes, peakLiveBytes: s.peakLiveBytes, peakSystemBytes: s.peakSystemBytes,
                       regionHoles: s.region?.holeCount ?? 0, regionBlocks: s.regionBlocks)
        }
    }

    /// Starts the peaks of `statistics` again from the present values.
    public func resetPeaks() {
        state.withLock { s in s.peakLiveBytes = s.liveBytes; s.peakSystemBytes = s.systemBytes }
    }

    /// With `CYCLEX_POOL_PEAK_SIZES=1`: (buffer size in bytes, live buffers) at the last live peak.
    public var liveBuffersAtPeak: [(bytes: Int, buffers: Int)] {
        state.withLock { s in s.liveBySizeAtPeak.filter { $0.value > 0 }.map { ($0.key, $0.value) } }
    }

    /// Number of requests that found no kept buffer (new memory from the system, or a region block
    /// above every earlier one).
    public var allocationCount: Int { state.withLock { $0.allocations } }
    /// Number of requests served from kept memory so far.
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
