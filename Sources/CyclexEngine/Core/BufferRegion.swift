#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One reserved stretch of address space that the buffer pool carves large buffers from: first
/// fit in address order, freed blocks merged with free neighbours, so memory freed by one size can
/// serve any other size without going back to the system.
///
/// Why: a training step's phases use different buffer sizes (generator activations, then their
/// gradients, then the discriminators'). Free lists of exact sizes hold the sum of every size's
/// own peak (at 256 px 20–25 % above the live peak); returning memory to the system instead costs
/// page faults on every reuse (≈ 0.6 ms per MB on this machine). Carving from one region keeps
/// the touched memory within a few percent of the live peak with no system calls in the steady
/// state. Pages once touched stay resident (the region never shrinks while blocks are in use) until
/// `releaseFreePages()`.
///
/// Not thread-safe: the pool calls it under its lock. Addresses are integers (`Sendable`, so the
/// region can live in the pool's `Mutex`); offsets and lengths are multiples of `granule`.
struct BufferRegion: Sendable {
    let base: UInt
    let capacity: Int
    /// Block sizes are rounded up to this (one page: 64-byte alignment is all kernels need, and
    /// page-aligned holes can be released to the system).
    let granule: Int
    /// End of the highest block in use (bytes from `base`); nothing above it is in use.
    private(set) var top = 0
    /// The highest `top` so far (since `releaseFreePages`): the pages below it are resident.
    private(set) var highWater = 0
    /// Free stretches below `top`, in address order, never touching each other or `top`.
    private var holes: [(offset: Int, length: Int)] = []
    /// Bytes in `holes`.
    private(set) var holeBytes = 0
    var holeCount: Int { holes.count }

    /// Reserves `capacity` bytes of address space (nothing is resident until written), or nil when
    /// the system refuses (e.g. strict overcommit accounting).
    init?(capacity: Int, granule: Int) {
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #else
        let flags = MAP_PRIVATE | MAP_ANON
        #endif
        guard capacity > 0, let raw = mmap(nil, capacity, PROT_READ | PROT_WRITE, flags, -1, 0), raw != MAP_FAILED else {
            return nil
        }
        base = UInt(bitPattern: raw)
        self.capacity = capacity
        self.granule = granule
    }

    /// `bytes` rounded up to whole granules.
    func blockSize(_ bytes: Int) -> Int { (bytes + granule - 1) / granule * granule }

    func contains(_ address: UInt) -> Bool {
        address >= base && address - base < UInt(capacity)
    }

    /// The lowest free block of `length` bytes (a multiple of `granule`), or nil when the region is
    /// full.
    mutating func allocate(_ length: Int) -> UInt? {
        if let i = holes.firstIndex(where: { $0.length >= length }) {
            let hole = holes[i]
            if hole.length == length {
                holes.remove(at: i)
            } else {
                holes[i] = (hole.offset + length, hole.length - length)
            }
            holeBytes -= length
            return base + UInt(hole.offset)
        }
        guard top + length <= capacity else { return nil }
        let offset = top
        top += length
        highWater = max(highWater, top)
        return base + UInt(offset)
    }

    /// Returns a block given out by `allocate(length)`.
    mutating func free(_ address: UInt, length: Int) {
        var offset = Int(address - base), length = length
        // Insertion point: the first hole above the block.
        var lo = 0, hi = holes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if holes[mid].offset < offset { lo = mid + 1 } else { hi = mid }
        }
        var i = lo
        if i > 0, holes[i - 1].offset + holes[i - 1].length == offset {
            i -= 1
            offset = holes[i].offset
            length += holes[i].length
            holeBytes -= holes[i].length
            holes.remove(at: i)
        }
        if i < holes.count, offset + length == holes[i].offset {
            length += holes[i].length
            holeBytes -= holes[i].length
            holes.remove(at: i)
        }
        if offset + length == top {
            top = offset  // the topmost block: the free space joins the untouched part above
        } else {
            holes.insert((offset, length), at: i)
            holeBytes += length
        }
    }

    /// Gives the pages of every hole and of everything above `top` back to the system (their
    /// contents are lost; they read as zeros when touched again).
    mutating func releaseFreePages() {
        for hole in holes {
            madvise(UnsafeMutableRawPointer(bitPattern: base + UInt(hole.offset)), hole.length, MADV_DONTNEED)
        }
        if highWater > top { madvise(UnsafeMutableRawPointer(bitPattern: base + UInt(top)), highWater - top, MADV_DONTNEED) }
        highWater = top
    }
}
