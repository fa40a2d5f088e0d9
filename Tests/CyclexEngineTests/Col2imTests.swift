import CyclexEngine
import Testing

/// `Kernels.col2im` against a fold written out here pixel by pixel (each image pixel sums its
/// taps' entries in tap order, the order `col2im` promises), bit for bit, with the per-tap ranges
/// on and off (`CYCLEX_TAP_RANGES`), on strides 1–3 (stride 2 folds taps in pairs),
/// kernels 1–5, paddings 0–2, odd sizes, bands of output rows and several images side by side in
/// other layouts (row, channel and image strides); `Kernels.im2col` likewise against the unfold
/// by definition. Plus the adjoint identity ⟨im2col x, c⟩ = ⟨x, col2im c⟩.
@Suite struct Col2imTests {
    /// The unfold by definition: entry (c, ki, kj, oh, ow) is pixel (oh·s − p + ki, ow·s − p + kj), 0 outside.
    static func referenceUnfold(_ x: [Float], _ g: ConvGeometry, band: Range<Int>, rowStride: Int) -> [Float] {
        var cols = [Float](repeating: .nan, count: g.patchSize * rowStride)
        for c in 0..<g.channels {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let row = ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowStride
                    for oh in band {
                        for ow in 0..<g.outputWidth {
                            let ih = oh * g.stride - g.padding + ki, iw = ow * g.stride - g.padding + kj
                            let inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width
                            cols[row + (oh - band.lowerBound) * g.outputWidth + ow] =
                                inside ? x[(c * g.height + ih) * g.width + iw] : 0
                        }
                    }
                }
            }
        }
        return cols
    }

    /// The fold by definition: for every column entry (c, ki, kj, oh, ow) of image b, the pixel
    /// (oh·s − p + ki, ow·s − p + kj) gets it added, taps in order, skipping pixels outside.
    static func referenceFold(
        _ cols: [Float], _ g: ConvGeometry, band: Range<Int>, rowStride: Int, images: Int, channelStride: Int,
        imageStride: Int, into x: inout [Float]
    ) {
        let n = band.count * g.outputWidth
        for c in 0..<g.channels {
            for b in 0..<images {
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        let row = ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowStride + b * n
                        for oh in band {
                            let ih = oh * g.stride - g.padding + ki
                            guard ih >= 0 && ih < g.height else { continue }
                            for ow in 0..<g.outputWidth {
                                let iw = ow * g.stride - g.padding + kj
                                guard iw >= 0 && iw < g.width else { continue }
                                x[c * channelStride + b * imageStride + ih * g.width + iw] +=
                                    cols[row + (oh - band.lowerBound) * g.outputWidth + ow]
                            }
                        }
                    }
                }
            }
        }
    }

    static func geometry(_ channels: Int, _ height: Int, _ width: Int, _ kernel: Int, _ stride: Int, _ padding: Int) -> ConvGeometry {
        ConvGeometry(channels: channels, height: height, width: width, kernelHeight: kernel, kernelWidth: kernel,
                     stride: stride, padding: padding, outputHeight: (height + 2 * padding - kernel) / stride + 1,
                     outputWidth: (width + 2 * padding - kernel) / stride + 1)
    }

    @Test(arguments: [
        // (channels, height, width, kernel, stride, padding)
        (3, 16, 16, 4, 2, 1), (5, 9, 11, 4, 2, 1), (2, 8, 7, 3, 2, 1), (4, 10, 9, 5, 2, 2), (3, 7, 7, 4, 2, 0),
        (2, 6, 5, 2, 2, 0), (3, 9, 9, 1, 2, 0), (2, 13, 11, 3, 3, 1), (3, 9, 8, 4, 3, 2), (4, 11, 10, 3, 1, 1),
        (2, 8, 9, 4, 1, 1), (3, 7, 6, 7, 1, 3), (2, 5, 5, 3, 1, 0), (2, 4, 4, 4, 2, 2), (1, 3, 3, 3, 2, 2),
    ])
    func foldAndUnfoldMatchThePixelDefinitionBitForBit(
        channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int
    ) {
        let g = Self.geometry(channels, height, width, kernel, stride, padding)
        var r = Inputs(seed: UInt64(52_000 + channels * 1000 + height * 37 + kernel * 5 + stride))
        let bands = [0..<g.outputHeight, (g.outputHeight / 2)..<g.outputHeight, 0..<1]
        for band in bands where !band.isEmpty {
            for (images, extraColumns, channelGap) in [(1, 0, 0), (3, 5, 0), (2, 0, 7)] {
                let n = band.count * g.outputWidth, plane = height * width
                let rowStride = images * n + extraColumns
                let cols = r.normal([g.patchSize * rowStride]).scalars
                // Channel-major with gaps: channel c of image b at c·(images·plane + gap) + b·plane.
                let channelStride = images * plane + channelGap, imageStride = plane
                let start = r.normal([channels * channelStride]).scalars
                var expected = start
                Self.referenceFold(cols, g, band: band, rowStride: rowStride, images: images, channelStride: channelStride,
                                   imageStride: imageStride, into: &expected)
                for tapRanges in [true, false] {
                    var x = start
                    Kernels.$tapRangesOverride.withValue(tapRanges) {
                        cols.withUnsafeBufferPointer { c in
                            x.withUnsafeMutableBufferPointer { xp in
                                Kernels.col2im(c.baseAddress!, g, xp.baseAddress!, outputRows: band, rowStride: rowStride,
                                               images: images, channelStride: channelStride, imageStride: imageStride)
                            }
                        }
                    }
                    let same = zip(x, expected).allSatisfy { $0.bitPattern == $1.bitPattern }
                    #expect(same, "tap ranges \(tapRanges), band \(band), images \(images), geometry \(g)")
                }
            }
            // The unfold of the same band (rows of cols 3 floats longer than the band: the gap stays NaN).
            let n = band.count * g.outputWidth
            let x = r.normal([channels, height, width]).scalars
            let expected = Self.referenceUnfold(x, g, band: band, rowStride: n + 3)
            for tapRanges in [true, false] {
                var cols = [Float](repeating: .nan, count: g.patchSize * (n + 3))
                Kernels.$tapRangesOverride.withValue(tapRanges) {
                    x.withUnsafeBufferPointer { xp in
                        cols.withUnsafeMutableBufferPointer { cp in
                            Kernels.im2col(xp.baseAddress!, g, cp.baseAddress!, outputRows: band, rowStride: n + 3)
                        }
                    }
                }
                let same = zip(cols, expected).allSatisfy { $0.bitPattern == $1.bitPattern }
                #expect(same, "im2col, tap ranges \(tapRanges), band \(band), geometry \(g)")
            }
        }
    }

    /// ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ (in Double) for the default layout: col2im is im2col's adjoint.
    @Test(arguments: [(3, 12, 10, 4, 2, 1), (2, 9, 9, 3, 1, 1), (2, 11, 8, 5, 3, 2)])
    func foldIsTheAdjointOfTheUnfold(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        let g = Self.geometry(channels, height, width, kernel, stride, padding)
        var r = Inputs(seed: UInt64(53_000 + height * 10 + kernel))
        let x = r.normal([channels, height, width]).scalars, c = r.normal([g.patchSize * g.outputPixels]).scalars
        var unfolded = [Float](repeating: 0, count: c.count), folded = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in unfolded.withUnsafeMutableBufferPointer { Kernels.im2col(xp.baseAddress!, g, $0.baseAddress!) } }
        c.withUnsafeBufferPointer { cp in folded.withUnsafeMutableBufferPointer { Kernels.col2im(cp.baseAddress!, g, $0.baseAddress!) } }
        let left = zip(unfolded, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, folded).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) <= 1e-5 * max(1, abs(left)), "⟨im2col x, c⟩ \(left) vs ⟨x, col2im c⟩ \(right)")
    }
}
