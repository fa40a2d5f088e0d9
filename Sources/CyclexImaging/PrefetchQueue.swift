import Foundation

/// Produces `count` elements on background threads, at most `capacity` ahead of the consumer, and
/// hands them out in index order, so training never waits for JPEG decoding.
///
/// `produce(i)` must be deterministic in `i` for reproducible runs (draw per-item randomness from a
/// seed planned up front, as `UnpairedDataset.epochPlan` does), then the number of worker threads
/// does not change the results. Dropping the queue stops its threads after their current item.
public final class PrefetchQueue<Element: Sendable> {
    private let state: State

    /// - Parameters:
    ///   - count: number of elements, indices `0..<count`.
    ///   - capacity: how many finished elements may wait for the consumer (≥ 1).
    ///   - workers: background threads (1 is enough for 256² JPEGs: decoding takes well under 1 ms).
    public init(count: Int, capacity: Int = 8, workers: Int = 1, produce: @escaping @Sendable (Int) -> Element) {
        state = State(count: count, capacity: max(1, capacity), produce: produce)
        for _ in 0..<max(1, min(workers, max(count, 1))) {
            let state = self.state
            let thread = Thread { state.work() }
            thread.stackSize = 8 << 20
            thread.name = "cyclex-prefetch"
            thread.start()
        }
    }

    deinit { state.cancel() }

    /// The next element in index order, waiting for it if needed; nil after the last one.
    public func next() -> Element? { state.next() }

    /// Stops the background threads after their current item; `next()` then returns nil.
    public func cancel() { state.cancel() }

    /// Shared between the consumer and the worker threads; every field is guarded by `condition`.
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        let count: Int
        let capacity: Int
        let produce: @Sendable (Int) -> Element
        var ready: [Int: Element] = [:]
        var nextToClaim = 0
        var nextToHandOut = 0
        var isCancelled = false

        init(count: Int, capacity: Int, produce: @escaping @Sendable (Int) -> Element) {
            self.count = count
            self.capacity = capacity
            self.produce = produce
        }

        func work() {
            while true {
                condition.lock()
                while !isCancelled && nextToClaim < count && nextToClaim >= nextToHandOut + capacity {
                    condition.wait()
                }
                if isCancelled || nextToClaim >= count {
                    condition.unlock()
                    return
                }
                let index = nextToClaim
                nextToClaim += 1
                condition.unlock()

                let element = produce(index)

                condition.lock()
                ready[index] = element
                condition.broadcast()
                condition.unlock()
            }
        }

        func next() -> Element? {
            condition.lock()
            defer { condition.unlock() }
            while true {
                if isCancelled || nextToHandOut >= count { return nil }
                if let element = ready.removeValue(forKey: nextToHandOut) {
                    nextToHandOut += 1
                    condition.broadcast()
                    return element
                }
                condition.wait()
            }
        }

        func cancel() {
            condition.lock()
            isCancelled = true
            ready.removeAll()
            condition.broadcast()
            condition.unlock()
        }
    }
}
