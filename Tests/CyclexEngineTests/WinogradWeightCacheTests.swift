import CyclexEngine
import Testing

/// `WinogradWeightCache`: a hit gives the bits of a fresh transform, an optimizer update
/// (`weightsDidChange`) is never answered with the old weights' transform, nothing is cached
/// outside a `during`; and the input gradient from the forward transform
/// (`convolve(rotatedTranspose:)`) equals the one from its own rotated transform to rounding.
@Suite struct WinogradWeightCacheTests {
    /// The input gradient through the forward transform, rotated by the ξ permutation and read
    /// transposed, against the same convolution with rot180(w)ᵀ transformed on its own, on shapes
    /// with odd sizes, unequal channel counts and padding 0/1/2 (the gradient's 2 − p).
    @Test(arguments: [(1, 3, 4, 6, 5, 0), (2, 5, 2, 7, 7, 1), (1, 4, 6, 3, 3, 1), (1, 6, 3, 4, 9, 0), (1, 7, 5, 2, 3, 2)])
    func rotatedTransposeMatchesTheRotatedTransform(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(11_000 + batch * 1_000 + cin * 100 + height * 10 + padding))
        let (outH, outW) = (height + 2 * padding - 2, width + 2 * padding - 2)
        let gy = r.normal([batch, cout, outH, outW]), w = r.normal([cout, cin, 3, 3], std: 0.5)
        func inputGradient(rotated: Bool) -> [Float] {
            let u = Tensor(zeros: [16 * cout * cin])
            WinogradConvolution.transformWeights(w.pointer, outputChannels: cout, inputChannels: cin,
                                                 transposedAndFlipped: !rotated, into: u.pointer)
            let gx = Tensor(zeros: [batch, cin, height, width])
            WinogradConvolution.convolve(gy.pointer, transformedWeights: u.pointer, rotatedTranspose: rotated, bias: nil,
                                         into: gx.pointer, batch: batch, inputChannels: cout, outputChannels: cin,
                                         height: outH, width: outW, padding: 2 - padding)
            return gx.scalars
        }
        let viaForward = inputGradient(rotated: true), own = inputGradient(rotated: false)
        #expect(WinogradConvolutionTests.relativeError(viaForward, own) < 2e-6)
        #expect(viaForward.contains { $0 != 0 })
    }

    /// Inside `during`: the second use of a parameter is a hit with the same output bits; after
    /// the weights are written and `weightsDidChange()` is called, the next use is a miss and gives
    /// exactly what a fresh conv2d of the new weights gives. Gradients with the cache equal those
    /// without it bit for bit, and equal the cache-off path (own rotated transform) to rounding.
    @Test func followsOptimizerUpdates() {
        var r = Inputs(seed: 12_345)
        let (cin, cout) = (32, 40)
        let x = r.normal([1, cin, 6, 7]), w = r.normal([cout, cin, 3, 3], std: 0.1), b = r.normal([cout])
        w.requiresGradient = true
        let replacement = r.normal([cout, cin, 3, 3], std: 0.1)
        /// Output and input gradient of one conv2d (seeded with y's own values).
        func run() -> (y: [Float], gx: [Float]) {
            let xv = Tensor(shape: x.shape, scalars: x.scalars, requiresGradient: true)
            let y = xv.conv2d(weight: w, bias: b, padding: 1)
            let gx = Tensor.gradients(of: y, withRespectTo: [xv], seed: y.detached())[0]
            return (y.scalars, gx.scalars)
        }
        WinogradConvolution.$minimumTilesOverride.withValue(1) {
            WinogradWeightCache.$enabledOverride.withValue(true) {
                #expect(WinogradWeightCache.statistics == nil)
                let fresh = run()
                var updated: (y: [Float], gx: [Float]) = ([], [])
                WinogradWeightCache.$verifiesHits.withValue(true) {
                    WinogradWeightCache.during {
                        let first = run()
                        let afterFirst = WinogradWeightCache.statistics
                        #expect(afterFirst?.misses == 1 && afterFirst?.hits == 1, "forward stores, its gradient reads")
                        let second = run()
                        #expect(WinogradWeightCache.statistics?.hits == 3)
                        #expect(first.y.map(\.bitPattern) == fresh.y.map(\.bitPattern))
                        #expect(first.gx.map(\.bitPattern) == fresh.gx.map(\.bitPattern))
                        #expect(second.y.map(\.bitPattern) == fresh.y.map(\.bitPattern))
                        #expect(second.gx.map(\.bitPattern) == fresh.gx.map(\.bitPattern))
                        // An optimizer-like write, then the announcement optimizers make.
                        w.pointer.update(from: replacement.pointer, count: w.count)
                        WinogradWeightCache.weightsDidChange()
                        updated = run()
                        let s = WinogradWeightCache.statistics
                        #expect(s?.misses == 2 && s?.hits == 4)
                        #expect(updated.y.map(\.bitPattern) != fresh.y.map(\.bitPattern))
                    }
                }
                #expect(WinogradWeightCache.statistics == nil)
                // Outside any cache, on the new weights: the same bits as inside after the update.
                let outside = run()
                #expect(updated.y.map(\.bitPattern) == outside.y.map(\.bitPattern))
                #expect(updated.gx.map(\.bitPattern) == outside.gx.map(\.bitPattern))
                let old = WinogradWeightCache.$enabledOverride.withValue(false) { run() }
                #expect(WinogradConvolutionTests.relativeError(outside.gx, old.gx) < 2e-6)
                #expect(outside.y.map(\.bitPattern) == old.y.map(\.bitPattern), "the forward path is the same")
                let again = WinogradWeightCache.during { run() }
                #expect(again.y.map(\.bitPattern) == outside.y.map(\.bitPattern))
                #expect(again.gx.map(\.bitPattern) == outside.gx.map(\.bitPattern))
            }
        }
    }

    /// Switched off, `during` opens no cache; a weight that needs no gradient is never stored.
    @Test func storesOnlyParametersAndOnlyWhenOn() {
        var r = Inputs(seed: 54_321)
        let x = r.normal([1, 32, 5, 5]), w = r.normal([32, 32, 3, 3], std: 0.1)
        WinogradConvolution.$minimumTilesOverride.withValue(1) {
            WinogradWeightCache.$enabledOverride.withValue(false) {
                WinogradWeightCache.during { #expect(WinogradWeightCache.statistics == nil) }
            }
            WinogradWeightCache.$enabledOverride.withValue(true) {
                WinogradWeightCache.during {
                    _ = x.conv2d(weight: w, padding: 1)
                    _ = x.conv2d(weight: w, padding: 1)
                    let s = WinogradWeightCache.statistics
                    #expect(s?.hits == 0 && s?.misses == 0)
                }
            }
        }
    }
}

/// The small-N Winograd path of `conv2d` (8 × 8 … 16 × 16 outputs, products on the AVX-512 small-N
/// kernel with weights packed per step) against the im2col path it replaces: output and all
/// gradients to rounding (the weight gradient bit for bit on its old path when
/// `smallNWeightGradientOverride` is off); inside a cache, hits give the bits of fresh packing.
/// `smallNWeightGradient` on its own against the im2col weight gradient, over batches (its K runs
/// across images), channel counts that are not multiples of 16, odd sizes and padding 0…2.
@Suite struct SmallNWinogradTests {
    @Test(arguments: [(1, 32, 48, 8, 8, 1), (2, 48, 32, 10, 10, 0), (1, 32, 32, 8, 16, 1), (1, 40, 36, 9, 7, 1),
                      (1, 32, 32, 16, 16, 1)])
    func matchesIm2col(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(13_000 + batch * 1_000 + cin * 10 + height + padding))
        let x = r.normal([batch, cin, height, width]), w = r.normal([cout, cin, 3, 3], std: 0.1), b = r.normal([cout])
        w.requiresGradient = true
        let gy = r.normal([batch, cout, height + 2 * padding - 2, width + 2 * padding - 2])
        func run() -> (y: [Float], gx: [Float], gw: [Float]) {
            let xv = Tensor(shape: x.shape, scalars: x.scalars, requiresGradient: true)
            let y = xv.conv2d(weight: w, bias: b, padding: padding)
            let g = Tensor.gradients(of: y, withRespectTo: [xv, w], seed: gy)
            return (y.scalars, g[0].scalars, g[1].scalars)
        }
        let before = WinogradConvolution.smallNConvolutions
        let gradientsBefore = WinogradConvolution.smallNWeightGradients
        let packingsBefore = WinogradConvolution.fusedPackings
        let (small, cached) = WinogradConvolution.$smallNOverride.withValue(true) {
            let small = run()
            let cached = WinogradWeightCache.$verifiesHits.withValue(true) {
                WinogradWeightCache.$enabledOverride.withValue(true) {
                    WinogradWeightCache.during { () -> (y: [Float], gx: [Float], gw: [Float]) in
                        _ = run()
                        let again = run()
                        #expect((WinogradWeightCache.statistics?.hits ?? 0) >= 2)
                        return again
                    }
                }
            }
            return (small, cached)
        }
        if WinogradConvolution.smallNIsAvailable {
            #expect(WinogradConvolution.smallNConvolutions >= before + 3 * 2 * batch, "the small-N path did not run")
            #expect(WinogradConvolution.smallNWeightGradients >= gradientsBefore + 3, "the small-N weight gradient did not run")
            if WinogradConvolution.fusedPackingIsEnabled && NativeKernels.isEnabled {
                #expect(WinogradConvolution.fusedPackings >= packingsBefore + 2, "conv2d did not pack by the fused pass")
            }
        }
        let plain = WinogradConvolution.$smallNOverride.withValue(false) { run() }
        #expect(WinogradConvolutionTests.relativeError(small.y, plain.y) < 2e-6)
        #expect(WinogradConvolutionTests.relativeError(small.gx, plain.gx) < 2e-6)
        #expect(WinogradConvolutionTests.relativeError(small.gw, plain.gw) < 4e-6)
        #expect(small.gw.contains { $0 != 0 })
        // Switched off, the weight gradient takes the path it took before the small-N weight gradient.
        let oldWeightGradient = WinogradConvolution.$smallNWeightGradientOverride.withValue(false) {
            WinogradConvolution.$smallNOverride.withValue(true) { run() }
        }
        #expect(oldWeightGradient.gw.map(\.bitPattern) == plain.gw.map(\.bitPattern), "switched off: the old path")
        #expect(oldWeightGradient.gx.map(\.bitPattern) == small.gx.map(\.bitPattern))
        #expect(cached.y.map(\.bitPattern) == small.y.map(\.bitPattern), "a hit gives the fresh packing's bits")
        #expect(cached.gx.map(\.bitPattern) == small.gx.map(\.bitPattern), "a hit gives the fresh packing's bits")
    }

    @Test(arguments: [(1, 32, 48, 8, 8, 1), (3, 40, 20, 9, 7, 1), (2, 17, 33, 10, 10, 0), (1, 64, 64, 16, 16, 1),
                      (2, 24, 16, 6, 5, 2), (1, 256, 256, 8, 8, 1)])
    func weightGradientMatchesIm2col(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(14_000 + batch * 1_000 + cin * 10 + height + padding))
        let (outH, outW) = (height + 2 * padding - 2, width + 2 * padding - 2)
        let x = r.normal([batch, cin, height, width]), gy = r.normal([batch, cout, outH, outW])
        let g = ConvGeometry(channels: cin, height: height, width: width, kernelHeight: 3, kernelWidth: 3, stride: 1,
                             padding: padding, outputHeight: outH, outputWidth: outW)
        let expected = im2colWeightGradient(x: x, gy: gy, geometry: g, batch: batch, outputChannels: cout)
        guard WinogradConvolution.smallNIsAvailable else {
            // Without AVX-512 conv2d never takes this path (checked by matchesIm2col's counters).
            #expect(!WinogradConvolution.smallNIsAvailable)
            return
        }
        let dw = Tensor(zeros: [cout, cin, 3, 3])
        dw.pointer.update(repeating: .nan, count: dw.count)  // overwritten, never accumulated into
        WinogradConvolution.smallNWeightGradient(gradOutput: gy.pointer, input: x.pointer, into: dw.pointer, batch: batch,
                                                 inputChannels: cin, outputChannels: cout, height: height, width: width,
                                                 padding: padding)
        #expect(!dw.scalars.contains { $0.isNaN }, "every weight is written")
        #expect(WinogradConvolutionTests.relativeError(dw.scalars, expected.scalars) < 4e-6)
    }

    /// The small-N packing straight from w (one pass per form over a transposed copy) gives the
    /// bits of the two full transforms and 16-float copies it replaces, for channel counts that
    /// are and are not multiples of 16; and `conv2d`'s small-N path packs this way.
    @Test(arguments: [(32, 48), (40, 36), (17, 33), (256, 256), (16, 1)])
    func fusedPackingMatchesTransformAndCopy(cin: Int, cout: Int) {
        var r = Inputs(seed: UInt64(15_000 + cin * 1_000 + cout))
        let w = r.normal([cout, cin, 3, 3], std: 0.3)
        func pack(fused: Bool) -> (forward: [Float], rotated: [Float]) {
            WinogradConvolution.$fusedPackingOverride.withValue(fused) {
                let p = WinogradConvolution.packSmallN(w.pointer, outputChannels: cout, inputChannels: cin)
                return (Array(UnsafeBufferPointer(start: p.forward.pointer, count: p.forward.count)),
                        Array(UnsafeBufferPointer(start: p.rotated.pointer, count: p.rotated.count)))
            }
        }
        let before = WinogradConvolution.fusedPackings
        let (fused, copied) = NativeKernels.$override.withValue(true) { (pack(fused: true), pack(fused: false)) }
        #expect(WinogradConvolution.fusedPackings >= before + 1, "the fused packing did not run")
        #expect(fused.forward.count == copied.forward.count && fused.rotated.count == copied.rotated.count)
        #expect(fused.forward.map(\.bitPattern) == copied.forward.map(\.bitPattern))
        #expect(fused.rotated.map(\.bitPattern) == copied.rotated.map(\.bitPattern))
        #expect(fused.forward.contains { $0 != 0 } && fused.rotated.contains { $0 != 0 })
    }

    /// The small-N products with narrow last column blocks give the bits of whole blocks: forward
    /// and input gradient of convolutions whose tile counts leave 9, 1, 4 and no columns in the last
    /// block (10 × 10 and 18 × 18 input gradients of reflect-padded 8 × 8 and 16 × 16 convolutions).
    @Test(arguments: [(1, 32, 48, 10, 10, 0), (2, 40, 36, 18, 18, 0), (1, 32, 32, 9, 7, 1), (1, 64, 64, 8, 8, 1)])
    func narrowTailKeepsTheBits(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(16_000 + batch * 1_000 + cin * 10 + height + padding))
        let x = r.normal([batch, cin, height, width]), w = r.normal([cout, cin, 3, 3], std: 0.1), b = r.normal([cout])
        w.requiresGradient = true
        let gy = r.normal([batch, cout, height + 2 * padding - 2, width + 2 * padding - 2])
        func run(narrow: Bool) -> (y: [Float], gx: [Float]) {
            WinogradConvolution.$narrowColumnsOverride.withValue(narrow) {
                WinogradConvolution.$smallNOverride.withValue(true) {
                    let xv = Tensor(shape: x.shape, scalars: x.scalars, requiresGradient: true)
                    let y = xv.conv2d(weight: w, bias: b, padding: padding)
                    let g = Tensor.gradients(of: y, withRespectTo: [xv], seed: gy)
                    return (y.scalars, g[0].scalars)
                }
            }
        }
        let before = WinogradConvolution.smallNConvolutions
        let (narrow, whole) = (run(narrow: true), run(narrow: false))
        if WinogradConvolution.smallNIsAvailable {
            #expect(WinogradConvolution.smallNConvolutions >= before + 4 * batch, "the small-N path did not run")
        }
        #expect(narrow.y.map(\.bitPattern) == whole.y.map(\.bitPattern))
        #expect(narrow.gx.map(\.bitPattern) == whole.gx.map(\.bitPattern))
        let plain = WinogradConvolution.$smallNOverride.withValue(false) { () -> [Float] in
            let xv = Tensor(shape: x.shape, scalars: x.scalars, requiresGradient: true)
            return Tensor.gradients(of: xv.conv2d(weight: w, bias: b, padding: padding), withRespectTo: [xv], seed: gy)[0].scalars
        }
        #expect(WinogradConvolutionTests.relativeError(narrow.gx, plain) < 2e-6)
    }
}
