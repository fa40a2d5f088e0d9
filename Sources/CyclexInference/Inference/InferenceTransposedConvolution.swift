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
        let outH = (h - 1) * stride - 2 * padding + k + outputPadding
        let outW = (w - 1) * stride - 2 * padding + k + outputPadding
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
        let cols = TensorStorage(count: rows * n)
        let packedInput = TensorStorage(count: gemm.packedBCount(k: cin, n: n))
        for b in 0..<batch {
            gemm.multiply(m: rows, n: n, k: cin, packedA: packedTranspose!, b: x.pointer + b * cin * n,
                          scratch: packedInput, c: cols.pointer, ldc: n, bias: nil)
            let yb = out.pointer + b * cout * outH * outW
            Kernels.col2im(cols.pointer, geometry, yb)
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
}
