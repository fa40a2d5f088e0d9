import CyclexEngine
import Testing

/// Convolutions whose column matrix is built band by band (`Kernels.im2colBands`) give the same
/// output and gradients (input, weight, bias) as one whole-image column matrix; the bands are
/// forced small here (one or a few output rows) with odd sizes, strides and paddings.
@Suite struct Im2colBandTests {
    @Test(arguments: [
        // (batch, cin, cout, height, width, kernel, stride, padding, band limit in floats)
        (1, 3, 5, 9, 11, 3, 1, 1, 60), (2, 4, 6, 10, 9, 3, 2, 1, 100), (1, 2, 8, 12, 12, 7, 1, 3, 400),
        (1, 5, 7, 13, 8, 4, 2, 1, 1),
    ])
    func bandsMatchTheWholeImage(batch: Int, cin: Int, cout: Int, height: Int, width: Int, kernel: Int, stride: Int,
                                 padding: Int, limit: Int) {
        var r = Inputs(seed: UInt64(41_000 + cin * 100 + height * 10 + kernel))
        let x = r.normal([batch, cin, height, width]), w = r.normal([cout, cin, kernel, kernel], std: 0.3)
        let b = r.normal([cout])
        func run() -> [[Float]] {
            let xs = Tensor(shape: x.shape, scalars: x.scalars, requiresGradient: true)
            let ws = Tensor(shape: w.shape, scalars: w.scalars, requiresGradient: true)
            let bs = Tensor(shape: b.shape, scalars: b.scalars, requiresGradient: true)
            let y = xs.conv2d(weight: ws, bias: bs, stride: stride, padding: padding)
            let seed = Tensor(shape: y.shape, scalars: (0..<y.count).map { Float($0 % 7) - 3 })
            let grads = Tensor.gradients(of: y, withRespectTo: [xs, ws, bs], seed: seed)
            return [y.scalars] + grads.map(\.scalars)
        }
        let banded = Kernels.$im2colBandFloatsOverride.withValue(limit) { run() }
        let whole = Kernels.$im2colBandFloatsOverride.withValue(0) { run() }
        for (name, (a, e)) in zip(["output", "input gradient", "weight gradient", "bias gradient"], zip(banded, whole)) {
            #expect(WinogradConvolutionTests.relativeError(a, e) < 2e-6, "\(name)")
        }
        let g = ConvGeometry(channels: cin, height: height, width: width, kernelHeight: kernel, kernelWidth: kernel,
                             stride: stride, padding: padding, outputHeight: (height + 2 * padding - kernel) / stride + 1,
                             outputWidth: (width + 2 * padding - kernel) / stride + 1)
        let bands = Kernels.$im2colBandFloatsOverride.withValue(limit) { Kernels.im2colBands(g) }
        #expect(bands.count > 1, "the limit \(limit) splits the \(g.outputHeight) output rows")
        #expect(bands.first?.lowerBound == 0 && bands.last?.upperBound == g.outputHeight)
    }
}
