import CyclexEngine
import CyclexModels

/// A PatchGAN's forward without autodiff (`InferenceConvolution` for the five 4×4 convolutions,
/// instance norm + leaky ReLU in place), float32: the xAI training step's pass 1 needs the mask
/// discriminators' scores of the masked real images only as numbers (the fake half of that loss
/// comes from the saliency pass). Build one per use after the weights changed.
/// x [B, C, H, W] → patch scores [B, 1, H', W']; values equal `PatchDiscriminator`'s to float
/// rounding (the xAI step fixtures check the loss they enter).
public struct PatchDiscriminatorInferenceForward {
    private let convs: [InferenceConvolution]

    public init(_ d: PatchDiscriminator) {
        let p = Dictionary(d.namedParameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        // nn.Sequential indices of the convolutions (LeakyReLU, or InstanceNorm + LeakyReLU, between them).
        convs = zip([0, 2, 5, 8, 11], [2, 2, 2, 1, 1]).map { index, stride in
            guard let weight = p["model.\(index).weight"] else { preconditionFailure("discriminator has no model.\(index).weight") }
            return InferenceConvolution(weight: weight, bias: p["model.\(index).bias"], stride: stride, padding: 1, precision: .f32)
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        withoutGradient {
            var h = convs[0](x)
            let v = h.pointer
            for i in 0..<h.count where !(v[i] > 0) { v[i] *= 0.2 }
            for k in 1...3 {
                h = convs[k](h, normalizedNext: true)
                InferenceOps.instanceNormalize(h, activation: .leakyRelu(0.2))
            }
            return convs[4](h)
        }
    }
}
