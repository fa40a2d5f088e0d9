import Dispatch
import Foundation

/// The one parallel-for of the engine: splits `0..<count` into contiguous ranges run on all cores.
///
/// Kernels capture raw pointers, which `concurrentPerform`'s `@Sendable` closure would reject;
/// this is sound because `concurrentPerform` returns only after every range is done and the
/// ranges are disjoint.
public enum Parallel {
    public static let coreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` over contiguous sub-ranges of `0..<count`, at most one per core, and only
    /// splits when each range would get at least `minimumChunk` items (below that, threads cost
    /// more than they save).
    public static func forRanges(_ count: Int, minimumChunk: Int = 16_384, _ body: (Range<Int>) -> Void) {
        let chunks = min(coreCount, count / max(1, minimumChunk))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            body((count * i / chunks)..<(count * (i + 1) / chunks))
        }
    }

    /// Runs `body(i)` for each `i` in `0..<count`, spread over the cores in contiguous blocks.
    /// Use when each item is substantial (an image plane, a channel).
    public static func forEach(_ count: Int, minimumItemsPerCore: Int = 1, _ body: (Int) -> Void) {
        forRanges(count, minimumChunk: minimumItemsPerCore) { range in
            for i in range { body(i) }
        }
    }
}
