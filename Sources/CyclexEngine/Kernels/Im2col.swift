import Foundation

/// Geometry of one 2-D convolution window sweep over a [C, H, W] image.
public struct ConvGeometry: Sendable, Equatable {
    public var channels: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var stride: Int, padding: Int
    public var outputHeight: Int, outputWidth: Int

    public init(
        channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int,
        outputHeight: Int, outputWidth: Int
    ) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernelHeight, self.kernelWidth, self.stride, self.padding) = (kernelHeight, kernelWidth, stride, padding)
        (self.outputHeight, self.outputWidth) = (outputHeight, outputWidth)
    }

    /// Rows of the column matrix: C·kh·kw.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix: outH·outW.
    public var outputPixels: Int { outputHeight * outputWidth }
}

extension Kernels {
    /// The largest column matrix (floats) a convolution builds at once; larger ones run in bands
    /// of output rows (default 2²² floats = 16 MB; `CYCLEX_IM2COL_BAND_FLOATS=0` unfolds whole
    /// images, for A/B). A 7×7 conv of 16 channels at 256² would otherwise need 205 MB.
    public static let im2colBandFloats: Int =
        ProcessInfo.processInfo.environment["CYCLEX_IM2COL_BAND_FLOATS"].flatMap { Int($0) } ?? (1 << 22)

    /// Replaces `im2colBandFloats` inside `$im2colBandFloatsOverride.withValue(n) { … }` (tests).
    @TaskLocal public static var im2colBandFloatsOverride: Int?

    /// Bands of output rows whose column matrix holds at most `im2colBandFloats` floats (at least one row each).
    public static func im2colBands(_ g: ConvGeometry) -> [Range<Int>] {
        let total = g.patchSize * g.outputPixels
        let limit = im2colBandFloatsOverride ?? im2colBandFloats
        guard limit > 0, total > limit, g.outputHeight > 1 else { return [0..<g.outputHeight] }
        let rowsPerBand = max(1, limit / max(1, g.patchSize * g.outputWidth))
        return stride(from: 0, to: g.outputHeight, by: rowsPerBand).map { $0..<min(g.outputHeight, $0 + rowsPerBand) }
    }

    /// The whole image's column matrix [C·kh·kw, outH·outW].
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>) {
        im2col(x, g, cols, outputRows: nil)
    }

    /// Folds the whole image's column matrix back (see `col2im(_:_:_:outputRows:)`).
    public static func col2im(_ cols: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>) {
        col2im(cols, g, x, outputRows: nil)
    }

    /// Unfolds a [C, H, W] image into the column matrix [C·kh·kw, outH·outW] (zero padding),
    /// so that a convolution becomes one matrix product. Parallel over rows.
    ///
    /// With `outputRows`, only that band of output rows is unfolded: cols is then
    /// [C·kh·kw, outputRows.count·outW] (convolutions of large images run band by band so the
    /// column matrix stays small).
    ///
    /// With `rowStride`, the rows of cols are that many floats apart instead of their own length,
    /// so several images can be unfolded side by side into one matrix [C·kh·kw, images·outH·outW]
    /// (image b at column offset b·outH·outW), for one product over all of them.
    public static func im2col(
        _ x: UnsafePointer<Float>, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>, outputRows: Range<Int>?,
        rowStride: Int? = nil
    ) {
        let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (H, W, outW) = (g.height, g.width, g.outputWidth)
        let band = outputRows ?? 0..<g.outputHeight
        let n = band.count * outW
        let ld = rowStride ?? n
        let tapRanges = tapRangesOverride ?? usesTapRanges
        Parallel.forRanges(g.patchSize, minimumChunk: max(1, 32_768 / max(n, 1))) { rows in
            for r in rows {
                let c = r / (kh * kw), ki = (r / kw) % kh, kj = r % kw
                let src = x + c * H * W
                let dst = cols + r * ld
                // Output columns whose input column lies inside the image (stride-1 fast path).
                let lo = min(outW, max(0, p - kj)), hi = max(lo, min(outW, W + p - kj))
                if s > 1 && tapRanges {
                    unfoldStridedTap(src, g, dst, band: band, ki: ki, kj: kj)
                    continue
                }
                for oh in band {
                    let ih = oh * s - p + ki
                    let d = dst + (oh - band.lowerBound) * outW
                    if ih < 0 || ih >= H { d.update(repeating: 0, count: outW); continue }
                    let srow = src + ih * W
                    if s == 1 {
                        if lo > 0 { d.update(repeating: 0, count: lo) }
                        if hi > lo { (d + lo).update(from: srow + (lo - p + kj), count: hi - lo) }
                        if hi < outW { (d + hi).update(repeating: 0, count: outW - hi) }
                    } else {
                        for ow in 0..<outW {
                            let iw = ow &* s &- p &+ kj
                            d[ow] = (iw >= 0 && iw < W) ? srow[iw] : 0
                        }
                    }
                }
            }
        }
    }

    /// Whether the strided `im2col` and `col2im` work out each tap's valid output rows and columns
    /// once (no bounds test per element; `col2im` folds stride-2 taps two at a time) instead of
    /// testing every element's bounds. The same copies and the same sums in the same order, so the
    /// same bits. `CYCLEX_TAP_RANGES=0` restores the per-element tests (A/B).
    public static let usesTapRanges: Bool = ProcessInfo.processInfo.environment["CYCLEX_TAP_RANGES"] != "0"

    /// Replaces `usesTapRanges` inside `$tapRangesOverride.withValue(b) { … }` (tests).
    @TaskLocal public static var tapRangesOverride: Bool?

    /// One strided tap row (channel c, tap ki, kj) of the column matrix for the output rows `band`:
    /// zeros where the tap reads padding, else the input pixels `stride` apart.
    @inline(__always)
    static func unfoldStridedTap(
        _ src: UnsafePointer<Float>, _ g: ConvGeometry, _ dst: UnsafeMutablePointer<Float>, band: Range<Int>, ki: Int, kj: Int
    ) {
        let (s, p, W, outW) = (g.stride, g.padding, g.width, g.outputWidth)
        let rows = validOutputs(count: g.outputHeight, input: g.height, stride: s, offset: ki - p)
        let columns = validOutputs(count: outW, input: W, stride: s, offset: kj - p)
        for oh in band {
            let d = dst + (oh - band.lowerBound) * outW
            guard rows.contains(oh) && !columns.isEmpty else { d.update(repeating: 0, count: outW); continue }
            // srow[ow·s] is input column ow·s − p + kj.
            let srow = src + (oh * s - p + ki) * W + (kj - p)
            if columns.lowerBound > 0 { d.update(repeating: 0, count: columns.lowerBound) }
            if s == 2 {
                for ow in columns { d[ow] = srow[2 &* ow] }
            } else {
                for ow in columns { d[ow] = srow[ow &* s] }
            }
            if columns.upperBound < outW { (d + columns.upperBound).update(repeating: 0, count: outW - columns.upperBound) }
        }
    }

    /// Folds a column matrix back, adding each entry into the image pixel it came from
    /// (the adjoint of `im2col`). `x` must be initialised (usually zeros). Parallel over channels.
    /// With `outputRows`, cols holds only that band of output rows (see `im2col`).
    ///
    /// Other layouts (defaults: one [C, H, W] image, cols [C·kh·kw, n] with n = band rows · outW):
    /// - `rowStride`: floats between rows of cols (≥ images · n);
    /// - `images`: that many images side by side in cols, image b at column offset b·n;
    /// - `channelStride` / `imageStride`: where channel c of image b starts in x
    ///   (c·channelStride + b·imageStride; defaults H·W and C·H·W).
    ///
    /// Every pixel receives its taps' entries in tap order (kh-major, then kw) whatever the
    /// layout, so the result does not depend on how the work is split.
    public static func col2im(
        _ cols: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>, outputRows: Range<Int>?,
        rowStride: Int? = nil, images: Int = 1, channelStride: Int? = nil, imageStride: Int? = nil
    ) {
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let band = outputRows ?? 0..<g.outputHeight
        let n = band.count * g.outputWidth
        let layout = FoldLayout(
            band: band, columnsPerImage: n, rowStride: rowStride ?? images * n, images: images,
            channelStride: channelStride ?? g.height * g.width, imageStride: imageStride ?? g.channels * g.height * g.width)
        precondition(layout.rowStride >= images * n, "col2im: row stride \(layout.rowStride) < \(images) × \(n) columns")
        let tapRanges = tapRangesOverride ?? usesTapRanges
        Parallel.forRanges(g.channels, minimumChunk: max(1, 65_536 / max(1, kh * kw * images * n))) { channels in
            for c in channels {
                for b in 0..<images {
                    let dst = x + c * layout.channelStride + b * layout.imageStride
                    let src = cols + c * kh * kw * layout.rowStride + b * n
                    if tapRanges {
                        foldChannelByTapRanges(src, g, dst, layout)
                    } else {
                        foldChannelTestingEachElement(src, g, dst, layout)
                    }
                }
            }
        }
    }

    /// Where `col2im` reads and writes (see its parameters).
    struct FoldLayout {
        var band: Range<Int>, columnsPerImage: Int, rowStride: Int, images: Int, channelStride: Int, imageStride: Int
    }

    /// One channel of one image: `src` is its first tap row (taps `rowStride` apart), `dst` its [H, W] plane.
    /// Per tap the output rows and columns whose input pixel lies inside the image are worked out
    /// once; stride-2 taps kj and kj + 1 (which write the even and odd pixels of the same input row
    /// from the same output column) go together, so the inner loop writes contiguous pairs.
    @inline(__always)
    static func foldChannelByTapRanges(
        _ src: UnsafePointer<Float>, _ g: ConvGeometry, _ dst: UnsafeMutablePointer<Float>, _ layout: FoldLayout
    ) {
        let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (H, W, outW) = (g.height, g.width, g.outputWidth)
        let band = layout.band
        for ki in 0..<kh {
            let rows = validOutputs(count: g.outputHeight, input: H, stride: s, offset: ki - p)
            let y0 = max(rows.lowerBound, band.lowerBound), y1 = min(rows.upperBound, band.upperBound)
            guard y0 < y1 else { continue }
            var kj = 0
            while kj < kw {
                let a = validOutputs(count: outW, input: W, stride: s, offset: kj - p)
                let rowA = src + (ki * kw + kj) * layout.rowStride
                if s == 2 && kj + 1 < kw {
                    let b = validOutputs(count: outW, input: W, stride: s, offset: kj + 1 - p)
                    let rowB = rowA + layout.rowStride
                    let lo = max(a.lowerBound, b.lowerBound), both = lo..<max(lo, min(a.upperBound, b.upperBound))
                    // The ends where only one of the two taps is inside the image (all of a and b when they
                    // do not overlap).
                    let (aLeft, aRight, bLeft, bRight) = both.isEmpty
                        ? (a, 0..<0, b, 0..<0)
                        : (a.lowerBound..<both.lowerBound, both.upperBound..<a.upperBound,
                           b.lowerBound..<both.lowerBound, both.upperBound..<b.upperBound)
                    for oh in y0..<y1 {
                        let d = dst + (oh * 2 - p + ki) * W + (kj - p)
                        let offset = (oh - band.lowerBound) * outW
                        let va = rowA + offset, vb = rowB + offset
                        for ow in both {
                            d[2 &* ow] += va[ow]
                            d[2 &* ow &+ 1] += vb[ow]
                        }
                        for ow in aLeft { d[2 &* ow] += va[ow] }
                        for ow in aRight { d[2 &* ow] += va[ow] }
                        for ow in bLeft { d[2 &* ow &+ 1] += vb[ow] }
                        for ow in bRight { d[2 &* ow &+ 1] += vb[ow] }
                    }
                    kj += 2
                    continue
                }
                if !a.isEmpty {
                    for oh in y0..<y1 {
                        let d = dst + (oh * s - p + ki) * W + (kj - p)
                        let v = rowA + (oh - band.lowerBound) * outW
                        if s == 1 {
                            for ow in a { d[ow] += v[ow] }
                        } else {
                            for ow in a { d[ow &* s] += v[ow] }
                        }
                    }
                }
                kj += 1
            }
        }
    }

    /// The fold with a bounds test per element (`CYCLEX_TAP_RANGES=0`).
    static func foldChannelTestingEachElement(
        _ src: UnsafePointer<Float>, _ g: ConvGeometry, _ dst: UnsafeMutablePointer<Float>, _ layout: FoldLayout
    ) {
        let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (H, W, outW) = (g.height, g.width, g.outputWidth)
        let band = layout.band
        for ki in 0..<kh {
            for kj in 0..<kw {
                let row = src + (ki * kw + kj) * layout.rowStride
                let lo = min(outW, max(0, p - kj)), hi = max(lo, min(outW, W + p - kj))
                for oh in band {
                    let ih = oh * s - p + ki
                    if ih < 0 || ih >= H { continue }
                    let drow = dst + ih * W, srow = row + (oh - band.lowerBound) * outW
                    if s == 1 {
                        let shift = kj - p
                        for ow in lo..<hi { drow[ow &+ shift] += srow[ow] }
                    } else {
                        for ow in 0..<outW {
                            let iw = ow &* s &- p &+ kj
                            if iw >= 0 && iw < W { drow[iw] += srow[ow] }
                        }
                    }
                }
            }
        }
    }

    /// The outputs o of a `count`-wide output axis whose tap o·stride + offset lands inside an
    /// input axis of `input` pixels (a contiguous range, possibly empty).
    @inline(__always)
    public static func validOutputs(count: Int, input: Int, stride: Int, offset: Int) -> Range<Int> {
        let lo = min(count, offset >= 0 ? 0 : (-offset + stride - 1) / stride)
        let hi = min(count, input - offset <= 0 ? 0 : (input - offset - 1) / stride + 1)
        return lo..<max(lo, hi)
    }
}
