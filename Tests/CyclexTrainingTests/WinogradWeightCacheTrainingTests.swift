import CyclexEngine
import CyclexInference
import Foundation
import Testing

/// Whole training runs with `WinogradWeightCache`: every hit is checked against a fresh transform
/// (`verifiesHits`), across optimizer updates (one cache spans all steps here, so a transform of
/// step 1's weights would be offered in step 2 if an update were missed), and the trained weights
/// equal the cache-off path's to rounding (its input gradients use their own rotated transform).
@Suite(.serialized)
struct WinogradWeightCacheTrainingTests {
    @Test(arguments: [ModelConfiguration.Kind.cycleGAN, .xaiCycleGAN])
    func trainsWithVerifiedHits(kind: ModelConfiguration.Kind) throws {
        let trainer = TrainerTests()
        let root = try trainer.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        func train(name: String, cache: Bool) throws -> [String: [Float]] {
            let o = trainer.options(root, kind: kind, name: name, maxSteps: 3)
            return try WinogradWeightCache.$enabledOverride.withValue(cache) {
                try trainer.weights(trainer.quietTrainer(o).run().checkpoint)
            }
        }
        // The tiny preset's residual blocks (32 channels, 8×8) take Winograd only below the tile threshold.
        let (cached, plain) = try WinogradConvolution.$minimumTilesOverride.withValue(1) {
            () throws -> ([String: [Float]], [String: [Float]]) in
            let cached = try WinogradWeightCache.$verifiesHits.withValue(true) {
                try WinogradWeightCache.$enabledOverride.withValue(true) {
                    try WinogradWeightCache.during { () throws -> [String: [Float]] in
                        let weights = try train(name: "cached", cache: true)
                        let s = try #require(WinogradWeightCache.statistics)
                        // Per step and residual convolution: 1 miss, then hits for the other calls and gradients
                        // (alone: hits ≥ 2 × misses). The generation is process-wide, so optimizer updates of tests
                        // running beside this one add misses (seen: 104 hits, 64 misses); hits must still occur.
                        #expect(s.hits > 0, "hits \(s.hits), misses \(s.misses)")
                        #expect(s.misses > 0)
                        return weights
                    }
                }
            }
            return (cached, try train(name: "plain", cache: false))
        }
        #expect(cached.keys.sorted() == plain.keys.sorted())
        // Where rounding tips the sign of a near-zero gradient (biases in front of a norm), the two runs'
        // Adam steps (each ≈ lr, at most a few lr) point opposite ways; 3 steps, both runs: ≤ 4 · 3 · lr.
        let o = trainer.options(root, kind: kind, name: "rates", maxSteps: 3)
        let bound = 12 * max(o.configuration.learningRateGenerator, o.configuration.learningRateDiscriminator)
        var elements = 0, differing = 0
        for (name, values) in plain where !name.contains(".v.") {
            let other = try #require(cached[name])
            for (a, b) in zip(values, other) {
                elements += 1
                #expect(abs(a - b) <= bound, "\(name): \(a) vs \(b)")
                if abs(a - b) > 1e-6 * max(1, abs(a)) { differing += 1 }
            }
        }
        #expect(elements > 0)
        #expect(differing * 100 < elements, "\(differing) of \(elements) weights differ beyond rounding")
    }
}
