import CBFloat16Kernels
import CyclexEngine

/// One `ConvTranspose2d` (k×k, stride s, padding p, output padding op) of a generator, prepared for
/// the inference-only forward: y = col2im(Wᵀ · x) (+ bias), the adjoint of a strided convolution.
/// On OpenBLAS this is the training op without recording; the own kernels (`InferenceGEMM`) run
/// Wᵀ · x with Wᵀ packed once.
///
/// Shapes: x [B, Cin, H, W], weight [Cin, Cout, k, k] → [B, Cout, (H−1)s − 2p + k + op, …].
final class InferenceTransposedConvolution {
    let weight: Tensor, bias: Tensor?
    let stride: Int, padding: Int, outputPadding: Int
    let precision: InferencePrecision
    /// The product engine of this layer (`InferenceGEMM`).
    let gemm: InferenceGEMM
    /// Wᵀ [Cout·k² × Cin] packed for `gemm` (own kernels), made on first use.
    private var packedTranspose: TensorStorage?

    init(weight: Tensor, bias: Tensor?, stride: Int, padding: Int, outputPadding: Int, precision: InferencePrecision) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3], "square kernels only, got \(weight.shape)")
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.precision = precision
        gemm = InferenceGEMM.forPrecision(precision)
    }

    /// "convT k×k sS Cin→Cout", for profiles.
    var shapeDescription: String {
        "convT \(weight.shape[2])×\(weight.shape[3]) s\(stride) \(weight.shape[0])→\(weight.shape[1])"
    }

    /// With `normalizedNext` the bias is left out (an instance norm follows).
    func callAsFunction(_ x: Tensor, normalizedNext: Bool = false) -> Tensor {
        let bias = normalizedNext ? nil : self.bias
        if gemm == .openBLAS {
            return withoutGradient {
                x.transposedConv2d(weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
            }
        }
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, k) = (weight.shape[1], weight.shape[2])
        precondition(cin == weight.shape[0], "transposed conv: input \(x.shape), weight \(weight.shape)")
        let outH = Tensor.transposedConvolutionOutputSize(h, kernel: k, stride: stride, padding: padding,
                                                          outputPadding: outputPadding)
        let outW = Tensor.transposedConvolutionOutputSize(w, kernel: k, stride: stride, padding: padding,
                                                          outputPadding: outputPadding)
        if usesSubPixel {
            return subPixel(x, outputHeight: outH, outputWidth: outW, bias: bias)
        }
        let geometry = ConvGeometry(
            channels: cout, height: outH, width: outW, kernelHeight: k, kernelWidth: k, stride: stride,
            padding: padding, outputHeight: h, outputWidth: w)
        let rows = geometry.patchSize, n = h * w
        if packedTranspose == nil {
            // weight is [Cin][Cout·k²] row-major; its transpose is the A of Wᵀ · x.
            var transpose = [Float](repeating: 0, count: rows * cin)
            let src = weight.pointer
            for ci in 0..<cin { for r in 0..<rows { transpose[r * cin + ci] = src[ci * rows + r] } }
            packedTranspose = transpose.withUnsafeBufferPointer { gemm.packA($0.baseAddress!, m: rows, k: cin, lda: cin) }
        }
        let out = Tensor(zeros: [batch, cout, outH, outW])
        // Bands of input rows: their column matrix stays within `bandFloats`; neighbouring bands
        // add into the output rows they share.
        let bandRows = max(1, min(h, InferenceConvolution.bandFloats / max(1, rows * w)))
        let cols = TensorStorage(count: rows * bandRows * w)
        let packedInput = TensorStorage(count: gemm.packedBCount(k: cin, n: bandRows * w))
        for b in 0..<batch {
            let xb = x.pointer + b * cin * n, yb = out.pointer + b * cout * outH * outW
            var top = 0
            while top < h {
                let band = min(bandRows, h - top)
                gemm.multiply(m: rows, n: band * w, k: cin, packedA: packedTranspose!, b: xb + top * w, ldb: n,
                              scratch: packedInput, c: cols.pointer, ldc: band * w, bias: nil)
                Self.scatter(cols.pointer, inputTop: top, inputRows: band, inputWidth: w, channels: cout, kernel: k,
                             stride: stride, padding: padding, into: yb, height: outH, width: outW)
                top += band
            }
            if let bias {
                let plane = outH * outW
                for co in 0..<cout {
                    let v = bias.pointer[co], row = yb + co * plane
                    for i in 0..<plane { row[i] += v }
                }
            }
        }
        return out
    }

    // MARK: - Four sub-pixel convolutions on the tile kernel

    /// Stride-2 layers with ≥ 16 output channels (a multiple of 16) run as sub-pixel
    /// convolutions where the tile kernel can run (`CYCLEX_TILE_CONV=0` turns it off).
    var usesSubPixel: Bool {
        gemm != .openBLAS && TileConvolution.takes(outputChannels: weight.shape[1]) && stride == 2 && weight.shape[2] >= stride
    }

    /// One output phase (a, b): the outputs y[s·m + a, s·n + b]. Its taps are the kernel rows ki
    /// with (a + p − ki) divisible by s, reading input row m + (a + p − ki)/s; listed by that
    /// row offset, they form a small stride-1 convolution (`kernel`) starting `firstRow` /
    /// `firstColumn` rows and columns into the padded input.
    struct Phase {
        let a: Int, b: Int, firstRow: Int, firstColumn: Int
        let kernel: TileConvolution
    }

    /// (row offset d, kernel index ki) of the taps of output phase a, by increasing d.
    private func taps(phase a: Int) -> [(offset: Int, tap: Int)] {
        (0..<weight.shape[2]).filter { ((a + padding - $0) % stride + stride) % stride == 0 }
            .map { ((a + padding - $0) / stride, $0) }.sorted { $0.offset < $1.offset }
    }

    /// Rows of zeros above the input so that no phase reads a negative row (0 for k 3, p 1).
    private var leadingPad: Int { max(0, -((0..<stride).flatMap { taps(phase: $0).map(\.offset) }.min() ?? 0)) }

    /// The four phases' weights, made on first use.
    private var phases: [Phase]?

    private func makePhases() -> [Phase] {
        let (cin, cout, k) = (weight.shape[0], weight.shape[1], weight.shape[2])
        var result: [Phase] = []
        for a in 0..<stride {
            for b in 0..<stride {
                let rows = taps(phase: a), columns = taps(phase: b)
                // weight [Cin][Cout][k][k] → the phase's ordinary convolution weight [Cout][Cin][rows][columns].
                var w = [Float](repeating: 0, count: cout * cin * rows.count * columns.count)
                for co in 0..<cout {
                    for ci in 0..<cin {
                        for (r, row) in rows.enumerated() {
                            for (c, column) in columns.enumerated() {
                                w[((co * cin + ci) * rows.count + r) * columns.count + c] =
                                    weight.pointer[((ci * cout + co) * k + row.tap) * k + column.tap]
                            }
                        }
                    }
                }
                let kernel = w.withUnsafeBufferPointer {
                    TileConvolution(weight: $0.baseAddress!, outputChannels: cout, inputChannels: cin,
                                    kernelHeight: rows.count, kernelWidth: columns.count, bf16: gemm == .bf16)
                }
                result.append(Phase(a: a, b: b, firstRow: leadingPad + rows[0].offset, firstColumn: leadingPad + columns[0].offset,
                                    kernel: kernel))
            }
        }
        return result
    }

    /// y = ConvTranspose(x) as `stride`² ordinary convolutions of the (zero-padded) input, each
    /// writing every `stride`-th row and column of y: the same multiply-adds as Wᵀ · x + scatter,
    /// without the column matrix or the scatter pass.
    private func subPixel(_ x: Tensor, outputHeight outH: Int, outputWidth outW: Int, bias: Tensor?) -> Tensor {
        if phases == nil { phases = makePhases() }
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = weight.shape[1]
        let out = Tensor(uninitializedShape: [batch, cout, outH, outW])
        // Every phase reads rows firstRow ..< firstRow + rows + taps − 1 of the padded input.
        let lead = leadingPad
        var (needH, needW) = (h + lead, w + lead)
        for phase in phases! {
            let (rows, columns) = ((outH - phase.a + stride - 1) / stride, (outW - phase.b + stride - 1) / stride)
            needH = max(needH, phase.firstRow + rows - 1 + phase.kernel.kernelHeight)
            needW = max(needW, phase.firstColumn + columns - 1 + phase.kernel.kernelWidth)
        }
        for b in 0..<batch {
            let (buffer, ph, pw) = TileConvolution.pad(
                x.pointer + b * cin * h * w, channels: cin, height: h, width: w, top: lead, bottom: needH - h - lead,
                left: lead, right: needW - w - lead, reflect: false, bf16: gemm == .bf16)
            let yb = out.pointer + b * cout * outH * outW
            // The phases' work items in one list, split over the cores in one parallel region.
            var calls: [(kernel: TileConvolution, call: TileConvolution.Call, first: Int)] = []
            var total = 0, multiplyAdds = 0
            for phase in phases! {
                let (rows, columns) = ((outH - phase.a + stride - 1) / stride, (outW - phase.b + stride - 1) / stride)
                if rows == 0 || columns == 0 { continue }
                let call = phase.kernel.call(
                    buffer, offset: phase.firstRow * pw + phase.firstColumn, height: ph, width: pw, stride: 1,
                    bias: bias?.pointer, into: yb + phase.a * outW + phase.b, outputHeight: rows, outputWidth: columns,
                    plane: outH * outW, rowStride: stride * outW, pixelStride: stride)
                calls.append((phase.kernel, call, total))
                let items = phase.kernel.items(of: call)
                total += items
                multiplyAdds += items * phase.kernel.multiplyAddsPerItem
            }
            let perItem = max(1, multiplyAdds / max(1, total))
            Parallel.forRanges(total, minimumChunk: max(1, 65_536 / perItem)) { range in
                for (kernel, call, first) in calls {
                    let items = kernel.items(of: call)
                    let lo = max(range.lowerBound, first), hi = min(range.upperBound, first + items)
                    if lo < hi { kernel.run(call, items: (lo - first)..<(hi - first)) }
                }
            }
        }
        return out
    }

    /// Adds the column matrix of input rows inputTop..<inputTop+inputRows ([Cout·k² × rows·W])
    /// into y [Cout, outH, outW]: entry (co, ki, kj; i, j) lands at (i·s − p + ki, j·s − p + kj).
    /// Parallel over output channels (disjoint writes).
    static func scatter(
        _ cols: UnsafePointer<Float>, inputTop: Int, inputRows: Int, inputWidth w: Int, channels: Int, kernel k: Int,
        stride s: Int, padding p: Int, into y: UnsafeMutablePointer<Float>, height outH: Int, width outW: Int
    ) {
        let n = inputRows * w
        Parallel.forRanges(channels, minimumChunk: 1) { range in
            for co in range {
                let plane = y + co * outH * outW
                for ki in 0..<k {
                    for kj in 0..<k {
                        let row = cols + ((co * k + ki) * k + kj) * n
                        let lo = min(w, max(0, (p - kj + s - 1) / s)), hi = max(lo, min(w, (outW + p - kj + s - 1) / s))
                        for i in 0..<inputRows {
                            let oy = (inputTop + i) * s - p + ki
                            if oy < 0 || oy >= outH { continue }
                            let dst = plane + oy * outW, src = row + i * w
                            for j in lo..<hi { dst[j &* s &- p &+ kj] += src[j] }
                        }
                    }
                }
            }
        }
    }
}
