@testable import CyclexEngine
import Testing

/// The region the pool carves large buffers from (`BufferRegion`): blocks never overlap and keep
/// their contents, freed neighbours merge, memory freed by one size serves others without the
/// region growing, and the topmost free block joins the untouched part.
struct BufferRegionTests {
    static let page = 4096

    /// `region.allocate(length)`, required to succeed.
    func take(_ region: inout BufferRegion, _ length: Int) throws -> UInt {
        let address = region.allocate(length)
        return try #require(address)
    }

    /// Random allocations and frees against a list of live blocks: each block is filled with its own
    /// stamp and checked before it is freed (an overlap would overwrite a neighbour's stamp), the
    /// free bytes always equal the touched bytes minus the live ones, and the region stays well
    /// within twice the most that was alive at once (first fit on this seeded sequence).
    @Test func randomAllocationsNeverOverlapAndAccountingHolds() throws {
        var region = try #require(BufferRegion(capacity: 1 << 30, granule: Self.page))
        var rng = RandomGenerator(seed: 17)
        var live: [(address: UInt, length: Int, stamp: UInt32)] = []
        var liveBytes = 0, mostLive = 0, stamp: UInt32 = 0
        func check(_ block: (address: UInt, length: Int, stamp: UInt32)) -> Bool {
            let words = UnsafeMutablePointer<UInt32>(bitPattern: block.address)!
            // Blocks are whole pages, so an overlap covers whole pages: one word per page shows it.
            return stride(from: 0, to: block.length / 4, by: Self.page / 4).allSatisfy { words[$0] == block.stamp }
                && words[block.length / 4 - 1] == block.stamp
        }
        for _ in 0..<3000 {
            if live.isEmpty || rng.nextUniformFloat() < 0.55 {
                let length = region.blockSize(Int(rng.nextUniformFloat() * 40) * 3000 + 1)
                let address = try take(&region, length)
                stamp &+= 1
                UnsafeMutablePointer<UInt32>(bitPattern: address)!.update(repeating: stamp, count: length / 4)
                live.append((address, length, stamp))
                liveBytes += length
                mostLive = max(mostLive, liveBytes)
            } else {
                let block = live.remove(at: Int(rng.nextUniformFloat() * Float(live.count)) % live.count)
                #expect(check(block), "block at \(block.address) was overwritten")
                region.free(block.address, length: block.length)
                liveBytes -= block.length
            }
            #expect(region.holeBytes == region.top - liveBytes)
        }
        for block in live { #expect(check(block)) }
        #expect(region.highWater < 2 * mostLive)
        for block in live { region.free(block.address, length: block.length) }
        #expect(region.top == 0 && region.holeCount == 0 && region.holeBytes == 0)
    }

    @Test func freedNeighboursMergeAndServeOtherSizes() throws {
        var region = try #require(BufferRegion(capacity: 1 << 26, granule: Self.page))
        let p = 64 * Self.page
        let a = try take(&region, p), b = try take(&region, p), c = try take(&region, p)
        #expect(b == a + UInt(p) && c == b + UInt(p))
        region.free(a, length: p)
        region.free(b, length: p)  // merges with a's hole
        #expect(region.holeCount == 1 && region.holeBytes == 2 * p)
        // One block of both sizes together fits the merged hole: the region does not grow.
        let d = try take(&region, 2 * p)
        #expect(d == a && region.highWater == 3 * p && region.holeCount == 0)
        region.free(d, length: 2 * p)
        // Three smaller blocks, first fit from the bottom.
        let e = try take(&region, p / 2), f = try take(&region, p)
        #expect(e == a && f == a + UInt(p / 2) && region.highWater == 3 * p)
        // Freeing the topmost block lowers the top, and the hole below it joins too.
        region.free(c, length: p)
        #expect(region.top == p + p / 2 && region.holeBytes == 0)
        region.free(f, length: p)
        region.free(e, length: p / 2)
        #expect(region.top == 0 && region.holeCount == 0)
        #expect(region.highWater == 3 * p)
        region.releaseFreePages()
        #expect(region.highWater == 0)
    }

    @Test func aFullRegionSaysSo() throws {
        var region = try #require(BufferRegion(capacity: 8 * Self.page, granule: Self.page))
        let a = try take(&region, 6 * Self.page)
        let tooLarge = region.allocate(4 * Self.page)
        #expect(tooLarge == nil)
        region.free(a, length: 6 * Self.page)
        let whole = region.allocate(8 * Self.page)
        #expect(whole != nil)
    }
}
