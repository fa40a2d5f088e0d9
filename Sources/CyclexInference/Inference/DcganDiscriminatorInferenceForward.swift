import CyclexEngine
import CyclexModels
import Foundation

/// The DCGAN discriminator's forward in evaluation mode without autodiff, for LIME's queries
/// (docs/explanations.md#lime): thousands of perturbed images per step whose probabilities are
/// only numbers. The three 4×4 stride-2 convolutions run on `InferenceConvolution` (on AVX-512 the
/// tile kernel, which needs no column matrix and no packing of it; elsewhere im2col + GEMM),
/// BatchNorm with the running statistics and the leaky ReLU in one in-place pass, the last 4×4
/// convolution over the 4×4 map as one dot product per image, then the sigmoid.
/// x [n, C, 32, 32] → probabilities [n, 1, 1, 1], equal to `DcganDiscriminator` with its norms in
/// evaluation mode up to float rounding (the training op's convolutions sum in another order).
/// Build one per use after the weights or running statistics changed (it copies neither).
public struct DcganDiscriminatorInferenceForward {
    private let convs: [InferenceConvolution]
    /// Per channel of hidden1 and hidden2: running mean, 1/√(running var + ε), γ, β.
    private let norms: [(mean: [Float], inverseStd: [Float], gamma: [Float], beta: [Float])]
    /// The last convolution's weight [1, 4·ndf, 4, 4] as a flat vector.
    private let head: Tensor

    public init(_ d: DcganDiscriminator) {
        let p = Dictionary(d.namedParameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let buffers = Dictionary(d.namedBuffers.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        func tensor(_ name: String, _ table: [String: Tensor]) -> Tensor {
            guard let t = table[name] else { preconditionFailure("DCGAN discriminator has no \(name)") }
            return t
        }
        convs = ["input_layer.0", "hidden1.0", "hidden2.0"].map {
            InferenceConvolution(weight: tensor("\($0).weight", p), bias: nil, stride: 2, padding: 1, precision: .f32)
        }
        norms = zip(["hidden1.1", "hidden2.1"], d.norms).map { name, norm in
            let variance = tensor("\(name).running_var", buffers).scalars
            return (tensor("\(name).running_mean", buffers).scalars,
                    variance.map { 1 / ($0 + norm.epsilon).squareRoot() },
                    tensor("\(name).weight", p).scalars, tensor("\(name).bias", p).scalars)
        }
        head = tensor("out.0.weight", p)
    }

    /// Real-probabilities [n, 1, 1, 1] of `x` [n, C, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        withoutGradient {
            var h = convs[0](x)
            Self.leakyRelu(h)
            for k in 0..<2 {
                h = convs[k + 1](h)
                Self.normalizeAndRectify(h, norms[k])
            }
            let n = h.shape[0], per = h.count / n
            precondition(per == head.count, "DCGAN discriminator: the last map has \(per) values, the head \(head.count)")
            let out = Tensor(uninitializedShape: [n, 1, 1, 1])
            for i in 0..<n {
                let logit = Float(Kernels.dot(h.pointer + i * per, head.pointer, count: per))
                out.pointer[i] = logit >= 0 ? 1 / (1 + Foundation.exp(-logit)) : Foundation.exp(logit) / (1 + Foundation.exp(logit))
            }
            return out
        }
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
