import CBLAS
import CWorkerPool
import Dispatch
import Foundation

/// The one parallel-for of the engine, on the process's one persistent worker pool
/// (`CWorkerPool`): 1 worker per extra thread, the calling thread takes a share, idle workers
/// spin briefly and then sleep on a futex. OpenBLAS runs on one thread (`BLAS.sgemm` splits
/// large products over this pool instead), so two thread pools never compete for the cores.
///
/// Kernels capture raw pointers in `body`; this is sound because every call returns only after
/// all its ranges are done and the ranges are disjoint. A call made from inside another call's
/// `body` (nested) runs its ranges serially on that thread, so nesting cannot deadlock.
public enum Parallel {
    /// Processors this process may run on.
    public static let coreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Threads that take part in parallel work, the caller included: `OPENBLAS_NUM_THREADS` when
    /// set to a positive number (the variable users already set to give cyclex a number of
    /// threads, e.g. one per MPI rank), else `coreCount`. Changed with `setThreadCount`.
    public static var threadCount: Int {
        _ = configured
        return Int(cx_pool_threads())
    }

    /// Sets the threads taking part in parallel work (at least 1) for the rest of the process.
    public static func setThreadCount(_ n: Int) {
        _ = configured
        cx_pool_set_threads(Int32(clamping: max(1, n)))
        if !usesPool { openblas_set_num_threads(Int32(clamping: max(1, n))) }
    }

    /// The start-up configuration, done once before the first parallel call or product: the pool
    /// size, and OpenBLAS pinned to one thread.
    static let configured: Void = {
        let threads = requestedThreads(ProcessInfo.processInfo.environment) ?? coreCount
        cx_pool_set_threads(Int32(clamping: threads))
        openblas_set_num_threads(usesPool ? 1 : Int32(clamping: threads))
    }()

    /// False with `CYCLEX_THREAD_POOL=0`: the engine's threading before the pool (for A/B timing):
    /// parallel loops on libdispatch's `concurrentPerform`, products as one multi-threaded
    /// OpenBLAS call. Products then differ in the last bit between thread counts.
    public static let usesPool = ProcessInfo.processInfo.environment["CYCLEX_THREAD_POOL"] != "0"

    /// The thread count an environment asks for (`OPENBLAS_NUM_THREADS`, a positive integer), if any.
    static func requestedThreads(_ environment: [String: String]) -> Int? {
        guard let text = environment["OPENBLAS_NUM_THREADS"], let n = Int(text), n > 0 else { return nil }
        return n
    }

    /// Runs `body` over contiguous sub-ranges of `0..<count`, at most one per thread, and only
    /// splits when each range would get at least `minimumChunk` items (below that, threads cost
    /// more than they save).
    public static func forRanges(_ count: Int, minimumChunk: Int = 16_384, _ body: (Range<Int>) -> Void) {
        let chunks = min(threadCount, count / max(1, minimumChunk / grainDivisor))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        run(chunks) { i in body((count * i / chunks)..<(count * (i + 1) / chunks)) }
    }

    /// `CYCLEX_PARALLEL_GRAIN=d` divides every `minimumChunk` by d (default 1), for A/B timing of
    /// the call sites' thresholds, most of which were tuned for libdispatch's costlier hand-off.
    static let grainDivisor = max(1, Int(ProcessInfo.processInfo.environment["CYCLEX_PARALLEL_GRAIN"] ?? "") ?? 1)

    /// Runs `body(i)` for each `i` in `0..<count`, spread over the threads in contiguous blocks.
    /// Use when each item is substantial (an image plane, a channel).
    public static func forEach(_ count: Int, minimumItemsPerCore: Int = 1, _ body: (Int) -> Void) {
        forRanges(count, minimumChunk: minimumItemsPerCore) { range in
            for i in range { body(i) }
        }
    }

    /// Runs `task(i)` for every `i` in `0..<count` on the pool: each thread claims the next
    /// unclaimed index, so the number of tasks may exceed the thread count (e.g. a product split
    /// into a fixed number of parts that must not depend on the threads). Serial, in index
    /// order, with one thread or when nested.
    public static func run(_ count: Int, _ task: (Int) -> Void) {
        _ = configured
        if count <= 0 { return }
        if !usesPool {
            nonisolated(unsafe) let task = task
            DispatchQueue.concurrentPerform(iterations: count) { i in task(i) }
            return
        }
        withoutActuallyEscaping(task) { task in
            var context = task
            withUnsafeMutablePointer(to: &context) { pointer in
                cx_pool_run({ context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer, count)
            }
        }
    }

    /// True while the calling thread runs a task of a parallel call (where a further call would
    /// run serially).
    public static var isInsideTask: Bool { cx_pool_in_task() != 0 }
}
