import CyclexEngine
import Foundation

extension Explanation {
    /// Whether independent discriminator passes (the xAI step's saliency maps of different
    /// discriminators, their real-image scores) run side by side, one pass per pool thread with
    /// every op of a pass on that thread, instead of one after another with each op split over
    /// the threads. A PatchGAN pass is a chain of small products and norms (ndf 32 at 128²: the
    /// largest product is 256 × 225 × 2048), which two threads split with waits at every op; two
    /// whole passes at once keep both cores busy. Products give the same bits on any thread count
    /// (`BLAS.sgemm` splits into fixed parts), so the results do not change.
    /// `CYCLEX_XAI_CONCURRENT_PASSES=0` runs them one after another (A/B).
    public static let runsPassesConcurrently: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_XAI_CONCURRENT_PASSES"] != "0"

    /// Replaces `runsPassesConcurrently` inside `$concurrentPassesOverride.withValue(b) { … }` (tests).
    @TaskLocal public static var concurrentPassesOverride: Bool?

    /// [pass(0), …, pass(count − 1)], side by side on the pool's threads when
    /// `runsPassesConcurrently` and more than one thread is in use (else in index order on the
    /// calling thread). Each pass runs under the caller's gradient mode; other task-local
    /// overrides (tests' kernel switches) do not reach the pool's threads, so their passes use
    /// the process's settings. The passes must not write shared state.
    public static func independently<T>(_ count: Int, _ pass: (Int) -> T) -> [T] {
        independently(count, sideBySide: concurrentPassesOverride ?? runsPassesConcurrently, pass)
    }

    /// `independently(count, pass)` with the choice made by the caller (`sideBySide`), for other
    /// groups of independent passes with their own switch (e.g. the training recipes' two
    /// domains' discriminator updates). With `sideBySide` false, one thread, or when called from
    /// inside a task, the passes run in index order on the calling thread.
    public static func independently<T>(_ count: Int, sideBySide: Bool, _ pass: (Int) -> T) -> [T] {
        guard sideBySide, count > 1, Parallel.threadCount > 1, !Parallel.isInsideTask else { return (0..<count).map(pass) }
        let recording = GradientMode.isRecording
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { out in
            let slots = out.baseAddress!
            Parallel.run(count) { i in
                slots[i] = recording ? withGradient { pass(i) } : withoutGradient { pass(i) }
            }
        }
        return results.map { $0! }
    }
}
