import Foundation
import Synchronization

/// The Winograd-transformed weights (U = G g Gᵀ, `WinogradConvolution.transformWeights`) of the
/// parameters of one training step, computed once per optimizer update instead of once per use.
///
/// A CycleGAN or xAI-CycleGAN step calls each generator three times with the same weights and
/// runs the input gradient of each call; every one of those uses transformed the whole weight
/// afresh (≈ 5 % of the xAI standard step). Inside `during { … }` the first use of a parameter
/// stores its transform, and later uses of the same weights read it (the input gradient reads
/// it too, rotated by `WinogradConvolution.convolve(rotatedTranspose:)`, so one transform per
/// weight is kept: 16/9 of the Winograd layers' weights, ≈ 150 MB for standard CycleGAN).
///
/// Why a stale transform cannot be used:
/// - The cache exists only inside `during` (a model's training step opens it) and is dropped at
///   its end. Outside it nothing is cached, so weights written between steps (initialisation,
///   checkpoint loading, tests writing through `pointer`) never meet an old transform.
/// - Inside it, parameters change only through optimizers (`Tensor`'s rule: ops never modify their
///   inputs), and every optimizer update ends with `weightsDidChange()`, which bumps a
///   process-wide generation: the cache drops everything of an older generation before a lookup.
/// - Only weights that require a gradient (parameters) are stored, and an entry keeps its storage
///   alive, so a storage's identity cannot pass to another tensor while the cache holds it.
///
/// Cached and fresh transforms are the same function of the same bits, so a hit is
/// bit-identical to recomputing (`verifiesHits` recomputes and compares every hit, for tests).
/// `CYCLEX_WINOGRAD_WEIGHT_CACHE=0` turns the cache off (and the input gradient back to its own
/// rotated transform), for A/B timing in one binary.
public final class WinogradWeightCache: Sendable {
    /// Whether `during` opens a cache (default: yes; `CYCLEX_WINOGRAD_WEIGHT_CACHE=0`: no).
    public static let isEnabled: Bool = ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD_WEIGHT_CACHE"] != "0"

    /// Replaces `isEnabled` inside `$enabledOverride.withValue(…) { … }` (tests compare both paths).
    @TaskLocal public static var enabledOverride: Bool?

    /// With `true`, every hit is recomputed and compared bit by bit with the stored transform,
    /// and a difference stops the process (tests run whole training steps this way).
    @TaskLocal public static var verifiesHits = false

    /// The cache of the enclosing `during`, if any (per task: other threads see none).
    @TaskLocal private static var current: WinogradWeightCache?

    /// Bumped by every optimizer update (`weightsDidChange`).
    private static let generation = Atomic<Int>(0)

    /// Whether this call uses the cache's path (`isEnabled` or the override).
    public static var inUse: Bool { enabledOverride ?? isEnabled }

    /// Runs `body` with a cache of transformed weights (none when switched off; a nested call
    /// reuses the enclosing cache). Everything cached is released when `body` returns.
    public static func during<R>(_ body: () throws -> R) rethrows -> R {
        guard inUse, current == nil else { return try body() }
        return try $current.withValue(WinogradWeightCache()) { try body() }
    }

    /// Tells every cache that parameters were written in place: called by optimizers after each
    /// update (and by anything else that writes parameters inside a training step).
    public static func weightsDidChange() {
        generation.add(1, ordering: .sequentiallyConsistent)
    }

    /// Hits and misses of the enclosing `during`'s cache (nil outside one), for tests.
    public static var statistics: (hits: Int, misses: Int)? {
        current.map { cache in cache.state.withLock { ($0.hits, $0.misses) } }
    }

    private struct Key: Hashable {
        let storage: ObjectIdentifier
        let outputChannels: Int, inputChannels: Int
        /// 0: U (`transformWeights`); 1, 2: `packSmallN` without and with `rotatedTranspose`.
        let form: Int
    }

    private struct Entry {
        /// Kept alive so that its identity stays unique while the entry exists.
        let weights: TensorStorage
        let transformed: TensorStorage
    }

    private struct State {
        var generation = 0
        var entries: [Key: Entry] = [:]
        var hits = 0, misses = 0
    }

    private let state = Mutex(State())

    /// U of `weight` [Cout, Cin, 3, 3] in `transformWeights`' forward layout [16][Cout][Cin]:
    /// from the enclosing cache when `cacheable` (the weight is a parameter) and its generation is
    /// current, else computed (and stored when cacheable).
    static func forwardTransform(of weight: Tensor, outputChannels cout: Int, inputChannels cin: Int,
                                 cacheable: Bool) -> TensorStorage {
        lookUp(weight, outputChannels: cout, inputChannels: cin, form: 0, cacheable: cacheable) {
            let u = TensorStorage(count: 16 * cout * cin)
            WinogradConvolution.transformWeights(
                weight.pointer, outputChannels: cout, inputChannels: cin, transposedAndFlipped: false, into: u.pointer)
            return [0: u]
        }
    }

    /// `WinogradConvolution.packSmallN` of `weight` (the forward's products, or with
    /// `rotatedTranspose` the input gradient's), cached like `forwardTransform`; a miss packs and
    /// stores both forms (the input gradient follows its forward).
    static func smallNWeights(of weight: Tensor, outputChannels cout: Int, inputChannels cin: Int,
                              rotatedTranspose: Bool, cacheable: Bool) -> TensorStorage {
        lookUp(weight, outputChannels: cout, inputChannels: cin, form: rotatedTranspose ? 2 : 1, cacheable: cacheable) {
            let (forward, rotated) = WinogradConvolution.packSmallN(weight.pointer, outputChannels: cout, inputChannels: cin)
            return [1: forward, 2: rotated]
        }
    }

    /// Form `form` of `compute()` for `weight` (which computes it, and possibly other forms,
    /// keyed by form), or its stored result (see the type's rules). A miss stores every form computed.
    private static func lookUp(_ weight: Tensor, outputChannels cout: Int, inputChannels cin: Int, form: Int,
                               cacheable: Bool, _ computeForms: () -> [Int: TensorStorage]) -> TensorStorage {
        func compute() -> TensorStorage { computeForms()[form]! }
        guard cacheable, let cache = current else { return compute() }
        let key = Key(storage: ObjectIdentifier(weight.storage), outputChannels: cout, inputChannels: cin, form: form)
        let now = generation.load(ordering: .sequentiallyConsistent)
        let hit: TensorStorage? = cache.state.withLock { s in
            if s.generation != now {
                s.entries.removeAll()
                s.generation = now
            }
            guard let entry = s.entries[key] else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            return entry.transformed
        }
        if let hit {
            if verifiesHits {
                let fresh = compute()
                precondition(fresh.count == hit.count
                             && memcmp(fresh.pointer, hit.pointer, fresh.count * MemoryLayout<Float>.size) == 0,
                             "WinogradWeightCache: a cached transform differs from the weights' current transform")
            }
            return hit
        }
        let results = computeForms()
        cache.state.withLock { s in
            guard s.generation == now else { return }
            for (f, storage) in results {
                let k = Key(storage: key.storage, outputChannels: cout, inputChannels: cin, form: f)
                s.entries[k] = Entry(weights: weight.storage, transformed: storage)
            }
        }
        return results[form]!
    }
}
