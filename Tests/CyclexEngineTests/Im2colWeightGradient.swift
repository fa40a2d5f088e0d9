import CyclexEngine

/// The weight gradient of a 3×3 convolution the plain way, as the Winograd weight-gradient tests'
/// reference: per image, im2col of `x` [batch, cin, h, w] times `gy` [batch, cout, outH, outW]
/// transposed, summed over the batch into a [cout, cin, 3, 3] tensor.
func im2colWeightGradient(x: Tensor, gy: Tensor, geometry g: ConvGeometry, batch: Int, outputChannels cout: Int) -> Tensor {
    let expected = Tensor(zeros: [cout, g.channels, 3, 3])
    let cols = Tensor(zeros: [g.patchSize * g.outputPixels])
    for b in 0..<batch {
        Kernels.im2col(x.pointer + b * g.channels * g.height * g.width, g, cols.pointer)
        BLAS.sgemm(transposeB: true, m: cout, n: g.patchSize, k: g.outputPixels, a: gy.pointer + b * cout * g.outputPixels,
                   lda: g.outputPixels, b: cols.pointer, ldb: g.outputPixels, beta: b == 0 ? 0 : 1,
                   c: expected.pointer, ldc: g.patchSize)
    }
    return expected
}
