import CBFloat16Kernels
import CyclexEngine
@testable import CyclexInference
import CyclexTestSupport
import Foundation
import Testing

/// The 16-channel × 16-pixel tile kernel (`TileConvolution`) behind the inference forward's
/// stride-2 convolutions, small-image 3×3 convolutions and sub-pixel transposed convolutions:
/// float32 against the PyTorch op fixtures (every case of `ops/conv2d` and
/// `ops/conv_transpose2d`, shapes and settings from their metadata), and float32 and bf16 against
/// a Double reference on small integers (exact in bf16, exact sums in float32) with channel,
/// pixel and channel-pair tails.
struct TileConvolutionTests {
    @Test func convolutionFixture() throws {
        let f = try Fixture.load("ops/conv2d")
        for (name, cfg) in try f.config["cases"].entries() {
            let (stride, padding) = (try cfg["stride"].int(), try cfg["padding"].int())
            let weight = try f.tensor("\(name).weight")
            let bias = f.contains("\(name).bias") ? try f.tensor("\(name).bias") : nil
            let input = try f.tensor("\(name).input")
            let layer = InferenceConvolution(weight: weight, bias: bias, stride: stride, padding: padding, precision: .f32)
            let kernel = try cfg["kernel"].int()
            try TileConvolution.$anyChannelCount.withValue(true) {
                try InferenceConvolution.$tileMaximumWinogradTilesOverride.withValue(64) {
                let tiled = layer.usesTiles(height: input.shape[2] + 2 * padding, width: input.shape[3] + 2 * padding)
                // Stride 2 and small 3×3 stride-1 cases must take the tile kernel where it can run.
                if TileConvolution.available && (stride == 2 || kernel == 3) {
                    #expect(tiled, "\(name) did not run on the tile kernel")
                }
                try f.expectMatch(layer(input), "\(name).output")
                }
            }
        }
    }

    @Test func transposedFixture() throws {
        let f = try Fixture.load("ops/conv_transpose2d")
        for (name, cfg) in try f.config["cases"].entries() {
            let (stride, padding) = (try cfg["stride"].int(), try cfg["padding"].int())
            let layer = InferenceTransposedConvolution(
                weight: try f.tensor("\(name).weight"), bias: f.contains("\(name).bias") ? try f.tensor("\(name).bias") : nil,
                stride: stride, padding: padding, outputPadding: try cfg["output_padding"].int(), precision: .f32)
            try TileConvolution.$anyChannelCount.withValue(true) {
                if TileConvolution.available && stride == 2 {
                    #expect(layer.usesSubPixel, "\(name) did not run as sub-pixel convolutions")
                }
                try f.expectMatch(layer(try f.tensor("\(name).input")), "\(name).output")
            }
        }
    }

    /// Small integers: x in −2…2, weights in −2…2, bias −5…; every sum is exact in float32.
    static func integers(_ count: Int, _ a: Int, _ m: Int = 5) -> [Float] { (0..<count).map { Float(($0 * a) % m - m / 2) } }

    /// Double reference of a zero- or reflection-padded convolution, x [C, H, W], w [Cout, C, k, k].
    static func convolution(_ x: [Float], _ c: Int, _ h: Int, _ w: Int, weight: [Float], _ cout: Int, _ k: Int, stride: Int,
                            pad: Int, reflect: Bool, bias: [Float]) -> [Float] {
        func source(_ i: Int, _ n: Int) -> Int? {
            if i >= 0 && i < n { return i }
            if !reflect { return nil }
            return i < 0 ? -i : 2 * (n - 1) - i
        }
        let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1)
        var y = [Float](repeating: 0, count: cout * oh * ow)
        for co in 0..<cout {
            for i in 0..<oh {
                for j in 0..<ow {
                    var s = Double(bias[co])
                    for ci in 0..<c {
                        for a in 0..<k {
                            for b in 0..<k {
                                guard let r = source(i * stride + a - pad, h), let q = source(j * stride + b - pad, w) else { continue }
                                s += Double(weight[((co * c + ci) * k + a) * k + b]) * Double(x[(ci * h + r) * w + q])
                            }
                        }
                    }
                    y[(co * oh + i) * ow + j] = Float(s)
                }
            }
        }
        return y
    }

    /// Double reference of ConvTranspose2d, x [C, H, W], w [C, Cout, k, k].
    static func transposed(_ x: [Float], _ c: Int, _ h: Int, _ w: Int, weight: [Float], _ cout: Int, _ k: Int, stride: Int,
                           padding: Int, outputPadding: Int, bias: [Float]) -> [Float] {
        let (oh, ow) = ((h - 1) * stride - 2 * padding + k + outputPadding, (w - 1) * stride - 2 * padding + k + outputPadding)
        var y = (0..<(cout * oh * ow)).map { Double(bias[$0 / (oh * ow)]) }
        for ci in 0..<c {
            for i in 0..<h {
                for j in 0..<w {
                    for co in 0..<cout {
                        for a in 0..<k {
                            for b in 0..<k {
                                let (r, q) = (i * stride - padding + a, j * stride - padding + b)
                                guard r >= 0 && r < oh && q >= 0 && q < ow else { continue }
                                y[(co * oh + r) * ow + q] += Double(weight[((ci * cout + co) * k + a) * k + b]) * Double(x[(ci * h + i) * w + j])
                            }
                        }
                    }
                }
            }
        }
        return y.map { Float($0) }
    }

    /// 5 input channels (an odd bf16 pair), 20 output channels (a 4-channel block tail), 11 × 13
    /// images (partial 8-pixel segments): reflection-padded 3×3 stride 1, zero-padded 3×3 stride
    /// 2, and transposed 3×3 (output padding 1) and 4×4 (none) at stride 2.
    @Test(arguments: InferencePrecision.allCases)
    func knownAnswer(precision: InferencePrecision) throws {
        guard TileConvolution.available && (precision == .f32 || BFloat16Support.isAvailable) else { return }
        let (c, cout, h, w) = (5, 20, 11, 13)
        let x = Self.integers(c * h * w, 7)
        let bias = (0..<cout).map { Float($0 - 5) }
        let input = Tensor(shape: [1, c, h, w], scalars: x)
        let biasTensor = Tensor(shape: [cout], scalars: bias)
        try TileConvolution.$anyChannelCount.withValue(true) {
            try InferenceConvolution.$tileMaximumWinogradTilesOverride.withValue(64) {
                try check(input, x, bias: biasTensor, bias, precision)
            }
        }
    }

    private func check(_ input: Tensor, _ x: [Float], bias biasTensor: Tensor, _ bias: [Float], _ precision: InferencePrecision)
        throws
    {
        let (c, cout, h, w) = (input.shape[1], bias.count, input.shape[2], input.shape[3])
        for (stride, reflect) in [(1, true), (2, false)] {
            let weight = Self.integers(cout * c * 9, 3)
            let layer = InferenceConvolution(weight: Tensor(shape: [cout, c, 3, 3], scalars: weight), bias: biasTensor,
                                             stride: stride, padding: reflect ? 0 : 1, precision: precision)
            #expect(layer.usesTiles(height: h + 2, width: w + 2))
            let y = layer(input, reflectPadding: reflect ? 1 : 0)
            let expected = Self.convolution(x, c, h, w, weight: weight, cout, 3, stride: stride, pad: 1, reflect: reflect, bias: bias)
            #expect(y.scalars == expected, "\(precision) stride \(stride)")
        }
        for (k, outputPadding) in [(3, 1), (4, 0)] {
            let weight = Self.integers(c * cout * k * k, 3)
            let layer = InferenceTransposedConvolution(
                weight: Tensor(shape: [c, cout, k, k], scalars: weight), bias: biasTensor, stride: 2, padding: 1,
                outputPadding: outputPadding, precision: precision)
            #expect(layer.usesSubPixel)
            let expected = Self.transposed(x, c, h, w, weight: weight, cout, k, stride: 2, padding: 1, outputPadding: outputPadding,
                                           bias: bias)
            #expect(layer(input).scalars == expected, "\(precision) transposed k\(k)")
        }
    }
    /// The small-N GEMM behind Winograd on small images (`cx_f32_gemm_small_n`, `cx_bf16_gemm_small_n`):
    /// a batch of 2 products of 20 × 37 by 37 × 13 (a 4-row block tail, an odd bf16 pair, a
    /// 13-column tail; B rows of 32 as in a packed panel), small integers, against the Double
    /// reference bit for bit.
    @Test(arguments: InferencePrecision.allCases)
    func smallNKnownAnswer(precision: InferencePrecision) throws {
        guard TileConvolution.available && (precision == .f32 || BFloat16Support.isAvailable) else { return }
        let (batch, m, n, k, ldb) = (2, 20, 13, 37, 32)
        let a = Self.integers(batch * m * k, 7), b = Self.integers(batch * k * ldb, 3)
        let isBF16 = precision == .bf16
        let aStride = cx_tile16_packed_count(Int32(m), Int32(k), 1, 1, isBF16 ? 1 : 0)
        var packed = [UInt32](repeating: 0, count: batch * aStride)
        // bf16: B as pairs of rows [ceil(K/2)][32].
        var pairs = [UInt32](repeating: 0, count: batch * (k + 1) / 2 * ldb)
        var c = [Float](repeating: .nan, count: batch * m * n)
        for i in 0..<batch {
            a.withUnsafeBufferPointer { ap in
                packed.withUnsafeMutableBufferPointer { pp in
                    let src = ap.baseAddress! + i * m * k
                    if isBF16 {
                        cx_bf16_tile16_pack_weights(src, Int32(m), Int32(k), 1, 1, pp.baseAddress! + i * aStride)
                    } else {
                        cx_f32_tile16_pack_weights(src, Int32(m), Int32(k), 1, 1,
                                                   UnsafeMutableRawPointer(pp.baseAddress! + i * aStride).assumingMemoryBound(to: Float.self))
                    }
                }
            }
            if isBF16 {
                b.withUnsafeBufferPointer { bp in
                    pairs.withUnsafeMutableBufferPointer { pp in
                        cx_bf16_pack_b(bp.baseAddress! + i * k * ldb, Int32(k), Int32(ldb), Int32(ldb), pp.baseAddress! + i * (k + 1) / 2 * ldb, 0, 1)
                    }
                }
            }
        }
        let items = Int32(batch * ((m + 15) / 16) * ((n + 15) / 16))
        packed.withUnsafeBufferPointer { pp in
            if isBF16 {
                cx_bf16_gemm_small_n(Int32(m), Int32(n), Int32(k), pp.baseAddress!, aStride, pairs, Int32(ldb), (k + 1) / 2 * ldb,
                                     &c, Int32(n), m * n, 0, items)
            } else {
                let ap = UnsafeRawPointer(pp.baseAddress!).assumingMemoryBound(to: Float.self)
                cx_f32_gemm_small_n(Int32(m), Int32(n), Int32(k), ap, aStride, b, Int32(ldb), k * ldb, &c, Int32(n), m * n, 0, items)
            }
        }
        for i in 0..<batch {
            for r in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(a[(i * m + r) * k + p]) * Double(b[(i * k + p) * ldb + j]) }
                    #expect(c[(i * m + r) * n + j] == Float(s), "\(precision) C\(i)[\(r), \(j)]")
                }
            }
        }
    }
}
