import CyclexEngine
import CyclexModels
import Foundation

/// The DCGAN discriminator's forward in evaluation mode without autodiff, for LIME's queries
/// (docs/explanations.md#lime): thousands of perturbed images per step whose probabilities are
/// only numbers. The first two 4×4 stride-2 convolutions run on `InferenceConvolution` (on
/// AVX-512 the tile kernel, which needs no column matrix and no packing of it; elsewhere im2col +
/// GEMM). The third (8×8 → 4×4) is one product over a chunk of images instead: per image it has
/// only 16 output pixels, so a per-image kernel re-reads its 2 MB weight (64 filters) for every
/// image, while [Cout, Cin·16]·[Cin·16, images·16] reads it once per chunk. BatchNorm with the
/// running statistics and the leaky ReLU run in one in-place pass, the last 4×4 convolution over
/// the 4×4 map is one dot product per image, then the sigmoid.
/// x [n, C, 32, 32] → probabilities [n, 1, 1, 1], equal to `DcganDiscriminator` with its norms in
/// evaluation mode up to float rounding (the training op's convolutions sum in another order).
/// Build one per use after the weights or running statistics changed (it copies neither).
public struct DcganDiscriminatorInferenceForward {
    private let convs: [InferenceConvolution]
    /// Per channel of hidden1 and hidden2: running mean, 1/√(running var + ε), γ, β.
    private let norms: [(mean: [Float], inverseStd: [Float], gamma: [Float], beta: [Float])]
    /// The last convolution's weight [1, 4·ndf, 4, 4] as a flat vector.
    private let head: Tensor
    /// The third convolution's weight [Cout, Cin, 4, 4], and packed for the own float32 kernel
    /// (nil where that kernel does not run: OpenBLAS then).
    private let third: Tensor
    private let thirdPacked: TensorStorage?
    /// Images per product of the third convolution (bounds its column matrix: 64 images of the
    /// 64-filter D take 8 MB).
    static let chunkImages = 64

    public init(_ d: DcganDiscriminator) {
        let p = Dictionary(d.namedParameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let buffers = Dictionary(d.namedBuffers.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        func tensor(_ name: String, _ table: [String: Tensor]) -> Tensor {
            guard let t = table[name] else { preconditionFailure("DCGAN discriminator has no \(name)") }
            return t
        }
        convs = ["input_layer.0", "hidden1.0"].map {
            InferenceConvolution(weight: tensor("\($0).weight", p), bias: nil, stride: 2, padding: 1, precision: .f32)
        }
        norms = zip(["hidden1.1", "hidden2.1"], d.norms).map { name, norm in
            let variance = tensor("\(name).running_var", buffers).scalars
            return (tensor("\(name).running_mean", buffers).scalars,
                    variance.map { 1 / ($0 + norm.epsilon).squareRoot() },
                    tensor("\(name).weight", p).scalars, tensor("\(name).bias", p).scalars)
        }
        head = tensor("out.0.weight", p)
        third = tensor("hidden2.0.weight", p)
        let patch = third.count / third.shape[0]
        thirdPacked = InferenceGEMM.float32 == .openBLAS ? nil
            : InferenceGEMM.float32.packA(third.pointer, m: third.shape[0], k: patch, lda: patch)
    }

    /// Real-probabilities [n, 1, 1, 1] of `x` [n, C, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        withoutGradient {
            var h = convs[0](x)
            Self.leakyRelu(h)
            h = convs[1](h)
            Self.normalizeAndRectify(h, norms[0])
            let n = h.shape[0]
            let out = Tensor(uninitializedShape: [n, 1, 1, 1])
            var start = 0
            while start < n {
                let count = min(Self.chunkImages, n - start)
                let logits = thirdAndHead(h, images: start..<(start + count))
                for (i, logit) in logits.enumerated() {
                    out.pointer[start + i] = logit >= 0 ? 1 / (1 + Foundation.exp(-logit))
                        : Foundation.exp(logit) / (1 + Foundation.exp(logit))
                }
                start += count
            }
            return out
        }
    }

    /// The logits of `images` of h [n, Cin, H, W]: the third convolution (4×4, stride 2, zero
    /// padding 1) as one product over the images, BatchNorm + leaky ReLU, then the head's dot
    /// product, reading the product's [Cout, images·P] output in place.
    private func thirdAndHead(_ h: Tensor, images: Range<Int>) -> [Float] {
        let (cin, height, width) = (h.shape[1], h.shape[2], h.shape[3])
        let (cout, k) = (third.shape[0], third.shape[2])
        precondition(third.shape[1] == cin, "DCGAN discriminator: \(cin) channels into a \(third.shape) convolution")
        let (outH, outW) = ((height + 2 - k) / 2 + 1, (width + 2 - k) / 2 + 1)
        let plane = outH * outW, patch = cin * k * k, count = images.count, n = count * plane
        precondition(cout * plane == head.count, "DCGAN discriminator: the last map has \(cout * plane) values, the head \(head.count)")
        let cols = TensorStorage(count: patch * n)
        let source = h.pointer + images.lowerBound * cin * height * width
        // Image b's columns sit at offset b·P of every row: one matrix [Cin·k², images·P].
        let geometry = ConvGeometry(channels: cin, height: height, width: width, kernelHeight: k, kernelWidth: k,
                                    stride: 2, padding: 1, outputHeight: outH, outputWidth: outW)
        for b in 0..<count {
            Kernels.im2col(source + b * cin * height * width, geometry, cols.pointer + b * plane, outputRows: nil,
                           rowStride: n)
        }
        let y = TensorStorage(count: cout * n)
        if let thirdPacked {
            let scratch = TensorStorage(count: InferenceGEMM.float32.packedBCount(k: patch, n: n))
            InferenceGEMM.float32.multiply(m: cout, n: n, k: patch, packedA: thirdPacked, b: cols.pointer, scratch: scratch,
                                           c: y.pointer, ldc: n, bias: nil)
        } else {
            BLAS.sgemm(m: cout, n: n, k: patch, a: third.pointer, lda: patch, b: cols.pointer, ldb: n, c: y.pointer, ldc: n)
        }
        var logits = [Float](repeating: 0, count: count)
        let norm = norms[1]
        for c in 0..<cout {
            let (mean, r, gamma, beta) = (norm.mean[c], norm.inverseStd[c], norm.gamma[c], norm.beta[c])
            let weights = head.pointer + c * plane
            for b in 0..<count {
                let v = y.pointer + c * n + b * plane
                var sum: Float = 0
                for q in 0..<plane {
                    let z = ((v[q] - mean) * r) * gamma + beta
                    sum += (z > 0 ? z : 0.2 * z) * weights[q]
                }
                logits[b] += sum
            }
        }
        return logits
    }

    /// v > 0 ? v : 0.2·v in place.
    private static func leakyRelu(_ t: Tensor) {
        let v = t.pointer
        for i in 0..<t.count where !(v[i] > 0) { v[i] *= 0.2 }
    }

    /// y = ((x − mean)·r)·γ + β (the training op's evaluation-mode arithmetic), then the leaky
    /// ReLU, in place over [n, C, H, W].
    private static func normalizeAndRectify(_ t: Tensor, _ norm: (mean: [Float], inverseStd: [Float], gamma: [Float], beta: [Float])) {
        let channels = t.shape[1], plane = t.shape[2] * t.shape[3], n = t.shape[0]
        precondition(norm.mean.count == channels, "DCGAN discriminator: \(channels) channels, norm of \(norm.mean.count)")
        for b in 0..<n {
            for c in 0..<channels {
                let x = t.pointer + (b * channels + c) * plane
                let (mean, r, gamma, beta) = (norm.mean[c], norm.inverseStd[c], norm.gamma[c], norm.beta[c])
                for i in 0..<plane {
                    let y = ((x[i] - mean) * r) * gamma + beta
                    x[i] = y > 0 ? y : 0.2 * y
                }
            }
        }
    }
}
