import CyclexEngine
import CyclexModels
import Foundation

/// Whether the two domains' discriminator work of a CycleGAN or xAI-CycleGAN step (their
/// forwards on real and pooled fake images, and their backward passes) runs side by side, one
/// domain per pool thread with every op of a domain on that thread, instead of one domain after
/// the other with each op split over the threads.
///
/// A PatchGAN forward or backward at batch 1 is a chain of small products and norms (ndf 32 at
/// 128²: the largest product is 256 × 225 × 2048); split over two threads, every op ends in a
/// wait. The domains share no tensor, optimizer or pool, and products give the same bits on any
/// thread count (`BLAS.sgemm` splits into fixed parts), so the step's results do not change
/// (`DomainsSideBySideTests`). What stays on the calling thread, in the serial order: the image
/// pools' queries (a data-parallel reducer gathers there), the finite checks, the gradient
/// reduction and the optimizer updates.
///
/// `CYCLEX_D_UPDATES_SIDE_BY_SIDE=0` runs the domains one after the other (A/B timing).
public enum DiscriminatorDomains {
    public static let runSideBySide: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_D_UPDATES_SIDE_BY_SIDE"] != "0"

    /// Replaces `runSideBySide` inside `$sideBySideOverride.withValue(b) { … }` (tests).
    @TaskLocal public static var sideBySideOverride: Bool?

    /// [work(0), work(1)]: domain 0 and domain 1, side by side when switched on and the pool has
    /// more than one thread (`Explanation.independently`), else in index order on this thread.
    static func both<T>(_ work: (Int) -> T) -> [T] {
        Explanation.independently(2, sideBySide: sideBySideOverride ?? runSideBySide, work)
    }
}
