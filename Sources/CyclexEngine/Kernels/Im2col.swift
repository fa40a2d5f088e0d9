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
        Parallel.forRanges(g.patchSize, minimumChunk: max(1, 32_768 / max(n, 1))) { rows in
            for r in rows {
                let c = r / (kh * kw), ki = (r / kw) % kh, kj = r % kw
                let src = x + c * H * W
                let dst = cols + r * ld
                // Output columns whose input column lies inside the image (stride-1 fast path).
                let lo = min(outW, max(0, p - kj)), hi = max(lo, min(outW, W + p - kj))
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

    /// Folds a column matrix back, adding each entry into the image pixel it came from
    /// (the adjoint of `im2col`). `x` must be initialised (usually zeros). Parallel over channels.
    /// With `outputRows`, cols holds only that band of output rows (see `im2col`).
    public static func col2im(
        _ cols: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>, outputRows: Range<Int>?
    ) {
        let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (H, W, outW) = (g.height, g.width, g.outputWidth)
        let band = outputRows ?? 0..<g.outputHeight
        let n = band.count * outW
        Parallel.forRanges(g.channels, minimumChunk: 1) { channels in
            for c in channels {
                let dst = x + c * H * W
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let row = cols + ((c * kh + ki) * kw + kj) * n
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
        }
    }
}
