import CyclexEngine
import Testing

/// Winograd F(2×2, 3×3) against the im2col + sgemm formulation it replaces (built here from the
/// engine's public `Kernels.im2col`/`col2im` and `BLAS.sgemm`), on random shapes including odd
/// output sizes (half tiles), 1×1 outputs, padding 0/1/2 and batches; plus the input gradient
/// through `conv2d` (where Winograd is chosen for ≥ 32 channels and, here by override, any
/// number of tiles) by central differences.
@Suite struct WinogradConvolutionTests {
    /// y [B, Cout, outH, outW] by im2col + sgemm (+ bias).
    static func im2colForward(_ x: Tensor, _ w: Tensor, bias: Tensor?, padding: Int) -> [Float] {
        let (batch, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = w.shape[0]
        let g = ConvGeometry(channels: cin, height: h, width: wd, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: padding,
                             outputHeight: h + 2 * padding - 2, outputWidth: wd + 2 * padding - 2)
        let n = g.outputPixels
        var out = [Float](repeating: 0, count: batch * cout * n)
        var cols = [Float](repeating: 0, count: g.patchSize * n)
        out.withUnsafeMutableBufferPointer { o in
            cols.withUnsafeMutableBufferPointer { c in
                for b in 0..<batch {
                    Kernels.im2col(x.pointer + b * cin * h * wd, g, c.baseAddress!)
                    BLAS.sgemm(m: cout, n: n, k: g.patchSize, a: w.pointer, lda: g.patchSize, b: c.baseAddress!, ldb: n,
                               c: o.baseAddress! + b * cout * n, ldc: n)
                    if let bias { for co in 0..<cout { for i in 0..<n { o[b * cout * n + co * n + i] += bias.pointer[co] } } }
                }
            }
        }
        return out
    }

    /// max |a − b| / max(1, max |b|).
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var worst: Float = 0, scale: Float = 1
        for i in a.indices { worst = max(worst, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
        return worst / scale
    }

    @Test(arguments: [
        // (batch, cin, cout, height, width, padding, bias)
        (1, 3, 5, 6, 6, 0, false), (1, 4, 2, 7, 5, 1, true), (2, 5, 3, 3, 3, 0, true), (1, 2, 6, 3, 4, 2, false),
        (1, 8, 8, 9, 10, 1, true), (2, 6, 7, 4, 11, 0, false), (1, 7, 4, 1, 1, 2, true), (1, 3, 3, 2, 5, 1, false),
    ])
    func forwardMatchesIm2col(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int, bias hasBias: Bool) {
        var r = Inputs(seed: UInt64(7_000 + batch * 1_000 + cin * 100 + height * 10 + padding))
        let x = r.normal([batch, cin, height, width]), w = r.normal([cout, cin, 3, 3], std: 0.5)
        let bias = hasBias ? r.normal([cout]) : nil
        let expected = Self.im2colForward(x, w, bias: bias, padding: padding)
        let u = Tensor(zeros: [16 * cout * cin])
        WinogradConvolution.transformWeights(w.pointer, outputChannels: cout, inputChannels: cin, transposedAndFlipped: false,
                                             into: u.pointer)
        let y = Tensor(zeros: [expected.count])
        WinogradConvolution.convolve(x.pointer, transformedWeights: u.pointer, bias: bias?.pointer, into: y.pointer,
                                     batch: batch, inputChannels: cin, outputChannels: cout, height: height, width: width,
                                     padding: padding)
        #expect(Self.relativeError(y.scalars, expected) < 2e-6)
    }

    /// The input gradient as Winograd runs it (flipped, transposed kernel, padding 2 − p) equals
    /// Wᵀ·dY folded back by col2im.
    @Test(arguments: [(1, 3, 4, 6, 5, 0), (2, 5, 2, 7, 7, 1), (1, 4, 6, 3, 3, 1), (1, 6, 3, 4, 9, 0)])
    func inputGradientMatchesCol2im(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(8_000 + batch * 1_000 + cin * 100 + height * 10 + padding))
        let (outH, outW) = (height + 2 * padding - 2, width + 2 * padding - 2)
        let gy = r.normal([batch, cout, outH, outW]), w = r.normal([cout, cin, 3, 3], std: 0.5)
        let g = ConvGeometry(channels: cin, height: height, width: width, kernelHeight: 3, kernelWidth: 3, stride: 1,
                             padding: padding, outputHeight: outH, outputWidth: outW)
        let expected = Tensor(zeros: [batch, cin, height, width])
        let cols = Tensor(zeros: [g.patchSize * g.outputPixels])
        for b in 0..<batch {
            BLAS.sgemm(transposeA: true, m: g.patchSize, n: g.outputPixels, k: cout, a: w.pointer, lda: g.patchSize,
                       b: gy.pointer + b * cout * g.outputPixels, ldb: g.outputPixels, c: cols.pointer, ldc: g.outputPixels)
            Kernels.col2im(cols.pointer, g, expected.pointer + b * cin * height * width)
        }
        let u = Tensor(zeros: [16 * cout * cin])
        WinogradConvolution.transformWeights(w.pointer, outputChannels: cout, inputChannels: cin, transposedAndFlipped: true,
                                             into: u.pointer)
        let gx = Tensor(zeros: [batch, cin, height, width])
        WinogradConvolution.convolve(gy.pointer, transformedWeights: u.pointer, bias: nil, into: gx.pointer, batch: batch,
                                     inputChannels: cout, outputChannels: cin, height: outH, width: outW, padding: 2 - padding)
        #expect(Self.relativeError(gx.scalars, expected.scalars) < 2e-6)
    }

    /// The weight gradient (16 GEMMs dM_ξ·V_ξᵀ, then Gᵀ dU G) equals dY · colsᵀ summed over the batch.
    @Test(arguments: [(1, 3, 4, 6, 5, 0), (2, 5, 2, 7, 7, 1), (1, 4, 6, 3, 3, 1), (3, 6, 3, 4, 9, 0), (1, 2, 3, 1, 2, 2)])
    func weightGradientMatchesIm2col(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(9_500 + batch * 1_000 + cin * 100 + height * 10 + padding))
        let (outH, outW) = (height + 2 * padding - 2, width + 2 * padding - 2)
        let x = r.normal([batch, cin, height, width]), gy = r.normal([batch, cout, outH, outW])
        let g = ConvGeometry(channels: cin, height: height, width: width, kernelHeight: 3, kernelWidth: 3, stride: 1,
                             padding: padding, outputHeight: outH, outputWidth: outW)
        let expected = im2colWeightGradient(x: x, gy: gy, geometry: g, batch: batch, outputChannels: cout)
        let dw = Tensor(zeros: [cout, cin, 3, 3])
        WinogradConvolution.weightGradient(gradOutput: gy.pointer, input: x.pointer, into: dw.pointer, batch: batch,
                                           inputChannels: cin, outputChannels: cout, height: height, width: width,
                                           padding: padding)
        #expect(Self.relativeError(dw.scalars, expected.scalars) < 4e-6)
    }

    /// `conv2d` at widths where it picks Winograd: output against im2col, and the input and bias
    /// gradients by central differences (all weights too in the smallest case).
    @Test(arguments: [(1, 32, 32, 5, 4, 0), (2, 33, 40, 3, 3, 0), (1, 32, 48, 4, 5, 1)])
    func conv2dOnTheWinogradPath(batch: Int, cin: Int, cout: Int, height: Int, width: Int, padding: Int) {
        var r = Inputs(seed: UInt64(9_000 + cin * 10 + height + padding))
        let x = r.normal([batch, cin, height, width]), w = r.normal([cout, cin, 3, 3], std: 0.1), b = r.normal([cout])
        WinogradConvolution.$minimumTilesOverride.withValue(1) {
            #expect(WinogradConvolution.minimumTilesOverride == 1)
            let y = withoutGradient { x.conv2d(weight: w, bias: b, padding: padding) }
            #expect(Self.relativeError(y.scalars, Self.im2colForward(x, w, bias: b, padding: padding)) < 2e-6)
            checkGradients("winograd conv2d \(cin)→\(cout) \(height)x\(width) p\(padding)", inputs: [x, w, b],
                           differentiate: height * width <= 9 ? [0, 1, 2] : [0, 2]) { t in
                t[0].conv2d(weight: t[1], bias: t[2], padding: padding)
            }
        }
    }
}
