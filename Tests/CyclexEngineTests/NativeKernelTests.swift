import CyclexEngine
import Testing

/// The C kernels (`NativeKernels`, `Sources/CConvKernels`) against the Swift kernels they replace,
/// in every instruction-set variant the CPU has (AVX-512, AVX2 + FMA, baseline). The Swift kernels
/// are checked against im2col and by finite differences in `WinogradConvolutionTests` and the op
/// fixtures. Shapes cover the vector paths (≥ 16 channels, ≥ 32 output columns) and their scalar
/// tails (odd sizes, half tiles).
@Suite struct NativeKernelTests {
    /// Runs `body` once per instruction set (highest first) and restores the CPU's best.
    static func forEachInstructionSet(_ body: (String) -> Void) {
        for level in [2, 1, 0] {
            let name = NativeKernels.setInstructionSet(level)
            body(name)
        }
        NativeKernels.setInstructionSet(2)
    }

    /// `compute` with the C kernels and with the Swift ones; max |a − b| / max(1, max |b|).
    static func mismatch(_ compute: () -> [Float]) -> Float {
        let native = NativeKernels.$override.withValue(true) { compute() }
        let swift = NativeKernels.$override.withValue(false) { compute() }
        return WinogradConvolutionTests.relativeError(native, swift)
    }

    @Test func winogradTransformsMatchTheSwiftKernels() {
        // (batch, cin, cout, height, width, padding)
        let shapes = [(1, 16, 20, 34, 36, 1), (2, 17, 3, 9, 7, 0), (1, 33, 40, 5, 6, 2), (1, 32, 32, 16, 16, 1)]
        Self.forEachInstructionSet { isa in
            for (batch, cin, cout, height, width, padding) in shapes {
                var r = Inputs(seed: UInt64(31_000 + cin * 100 + height))
                let (outH, outW) = (height + 2 * padding - 2, width + 2 * padding - 2)
                let x = r.normal([batch, cin, height, width]), w = r.normal([cout, cin, 3, 3], std: 0.3)
                let bias = r.normal([cout]), gy = r.normal([batch, cout, outH, outW])
                let forward = Self.mismatch {
                    let u = Tensor(zeros: [16 * cout * cin]), y = Tensor(zeros: [batch, cout, outH, outW])
                    WinogradConvolution.transformWeights(w.pointer, outputChannels: cout, inputChannels: cin,
                                                         transposedAndFlipped: false, into: u.pointer)
                    WinogradConvolution.convolve(x.pointer, transformedWeights: u.pointer, bias: bias.pointer, into: y.pointer,
                                                 batch: batch, inputChannels: cin, outputChannels: cout, height: height,
                                                 width: width, padding: padding)
                    return u.scalars + y.scalars
                }
                let inputGradient = Self.mismatch {
                    let u = Tensor(zeros: [16 * cout * cin]), gx = Tensor(zeros: [batch, cin, height, width])
                    WinogradConvolution.transformWeights(w.pointer, outputChannels: cout, inputChannels: cin,
                                                         transposedAndFlipped: true, into: u.pointer)
                    WinogradConvolution.convolve(gy.pointer, transformedWeights: u.pointer, bias: nil, into: gx.pointer,
                                                 batch: batch, inputChannels: cout, outputChannels: cin, height: outH,
                                                 width: outW, padding: 2 - padding)
                    return u.scalars + gx.scalars
                }
                let weightGradient = Self.mismatch {
                    let dw = Tensor(zeros: [cout, cin, 3, 3])
                    WinogradConvolution.weightGradient(gradOutput: gy.pointer, input: x.pointer, into: dw.pointer, batch: batch,
                                                       inputChannels: cin, outputChannels: cout, height: height, width: width,
                                                       padding: padding)
                    return dw.scalars
                }
                let shape = "\(isa) \(batch)x\(cin)→\(cout) \(height)x\(width) p\(padding)"
                #expect(forward < 1e-6, "forward \(shape)")
                #expect(inputGradient < 1e-6, "input gradient \(shape)")
                #expect(weightGradient < 2e-6, "weight gradient \(shape)")
            }
        }
    }

    @Test func directConvolutionMatchesTheSwiftKernels() {
        // (cin, cout, height, width, kernel): the generators' 7×7 and 3×3 output convs and tails;
        // wide 7×7 (groups of 4 channels and a single one, rows of 32 + a shifted block, the input
        // gradient's 70- and 46-wide rows) and a wide 5×5 (one pass per tap, rows < 32 wide).
        let shapes = [(16, 3, 70, 70, 7), (32, 3, 34, 40, 3), (5, 1, 12, 45, 7), (8, 4, 9, 9, 3), (6, 2, 40, 39, 5),
                      (5, 9, 20, 46, 7), (3, 16, 40, 70, 7), (4, 6, 14, 24, 5)]
        Self.forEachInstructionSet { isa in
            for (cin, cout, height, width, k) in shapes {
                var r = Inputs(seed: UInt64(32_000 + cin * 100 + height))
                let (outH, outW) = (height - k + 1, width - k + 1)
                let x = r.normal([cin, height, width]), w = r.normal([cout, cin, k, k], std: 0.2)
                let gy = r.normal([cout, outH, outW]), start = r.normal([cout, cin, k, k])
                let forward = Self.mismatch {
                    let y = Tensor(repeating: 0.25, shape: [cout, outH, outW])
                    DirectConvolution.forward(x: x.pointer, weight: w.pointer, y: y.pointer, inputChannels: cin,
                                              outputChannels: cout, height: height, width: width, kernelHeight: k, kernelWidth: k)
                    return y.scalars
                }
                let inputGradient = Self.mismatch {
                    let gx = Tensor(repeating: -0.5, shape: [cin, height, width])
                    DirectConvolution.backwardInput(gradOutput: gy.pointer, weight: w.pointer, gradInput: gx.pointer,
                                                    inputChannels: cin, outputChannels: cout, height: height, width: width,
                                                    kernelHeight: k, kernelWidth: k)
                    return gx.scalars
                }
                let weightGradients = [false, true].map { accumulate in
                    Self.mismatch {
                        let gw = Tensor(shape: start.shape, scalars: start.scalars)
                        DirectConvolution.backwardWeight(gradOutput: gy.pointer, x: x.pointer, gradWeight: gw.pointer,
                                                         accumulate: accumulate, inputChannels: cin, outputChannels: cout,
                                                         height: height, width: width, kernelHeight: k, kernelWidth: k)
                        return gw.scalars
                    }
                }
                let shape = "\(isa) \(cin)→\(cout) \(height)x\(width) k\(k)"
                #expect(forward < 2e-6, "forward \(shape)")
                #expect(inputGradient < 2e-6, "input gradient \(shape)")
                #expect(weightGradients.allSatisfy { $0 < 2e-5 }, "weight gradient \(shape): \(weightGradients)")
            }
        }
    }

    /// `conv2d` of large kernels on the direct kernels (any output width) against im2col + sgemm:
    /// output and all three gradients, batch 2, rows that are not a multiple of 32 wide.
    @Test(arguments: [(5, 9, 20, 46, 7), (3, 16, 38, 38, 7), (4, 6, 14, 24, 5)])
    func largeKernelsThroughConv2dMatchIm2col(cin: Int, cout: Int, height: Int, width: Int, kernel: Int) {
        var r = Inputs(seed: UInt64(33_000 + cin * 100 + height))
        let x = r.normal([2, cin, height, width]), w = r.normal([cout, cin, kernel, kernel], std: 0.1)
        let b = r.normal([cout]), seed = r.normal([2, cout, height - kernel + 1, width - kernel + 1])
        func run(direct: Bool) -> [[Float]] {
            DirectConvolution.$largeKernelsOverride.withValue(direct) {
                let y = x.conv2d(weight: w, bias: b)
                let g = Tensor.gradients(of: y, withRespectTo: [x, w, b], seed: seed)
                return [y.scalars] + g.map(\.scalars)
            }
        }
        x.requiresGradient = true; w.requiresGradient = true; b.requiresGradient = true
        let (direct, im2col) = (run(direct: true), run(direct: false))
        for (name, pair) in zip(["output", "input gradient", "weight gradient", "bias gradient"], zip(direct, im2col)) {
            #expect(WinogradConvolutionTests.relativeError(pair.0, pair.1) < 2e-5, "\(name) \(cin)→\(cout) k\(kernel)")
        }
    }
}
