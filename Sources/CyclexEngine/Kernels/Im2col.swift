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
    /// Unfolds a [C, H, W] image into the column matrix [C·kh·kw, outH·outW] (zero padding),
    /// so that a convolution becomes one matrix product. Parallel over rows.
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>) {
        let n = g.outputPixels
        let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (H, W, outH, outW) = (g.height, g.width, g.outputHeight, g.outputWidth)
        Parallel.forRanges(g.patchSize, minimumChunk: max(1, 32_768 / max(n, 1))) { rows in
            for r in rows {
                let c = r / (kh * kw), ki = (r / kw) % kh, kj = r % kw
                let src = x + c * H * W
                let dst = cols + r * n
                // Output columns whose input column lies inside the image (stride-1 fast path).
                let lo = min(outW, max(0, p - kj)), hi = max(lo, min(outW, W + p - kj))
                for oh in 0..<outH {
                    let ih = oh * s - p + ki
                    let d = dst + oh * outW
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
    public static func col2im(_ cols: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>) {
        let n = g.outputPixels
        let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (H, W, outH, outW) = (g.height, g.width, g.outputHeight, g.outputWidth)
        Parallel.forRanges(g.channels, minimumChunk: 1) { channels in
            for c in channels {
                let dst = x + c * H * W
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let row = cols + ((c * kh + ki) * kw + kj) * n
                        let lo = min(outW, max(0, p - kj)), hi = max(lo, min(outW, W + p - kj))
                        for oh in 0..<outH {
                            let ih = oh * s - p + ki
                            if ih < 0 || ih >= H { continue }
                            let drow = dst + ih * W, srow = row + oh * outW
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
