import CyclexEngine
import CyclexNN

/// xAI-GAN / LogicGAN fully connected generator (docs/models.md#dense-gan): z [B, nz] → three
/// Linear + LeakyReLU(0.2) → Linear + tanh → [B, C, H, W]. Reference widths (256, 512, 1296)
/// for 1×32×32 (xAI-GAN) and (256, 512, 1024) for 1×28×28 (LogicGAN).
public final class DenseGenerator: Module {
    public let noiseSize: Int, imageShape: [Int]
    let input: Linear, hidden1: Linear, hidden2: Linear, out: Linear
    public var outputGradientRule: OutputGradientRule?

    public init(noiseSize nz: Int = 100, hidden: [Int] = [256, 512, 1296], imageShape: [Int] = [1, 32, 32],
                initialization: Initialization = .pytorchDefault, using g: inout RandomGenerator) {
        precondition(hidden.count == 3, "DenseGenerator takes three hidden widths")
        noiseSize = nz; self.imageShape = imageShape
        input = Linear(inputFeatures: nz, outputFeatures: hidden[0], initialization: initialization, using: &g)
        hidden1 = Linear(inputFeatures: hidden[0], outputFeatures: hidden[1], initialization: initialization, using: &g)
        hidden2 = Linear(inputFeatures: hidden[1], outputFeatures: hidden[2], initialization: initialization, using: &g)
        out = Linear(inputFeatures: hidden[2], outputFeatures: imageShape.reduce(1, *), initialization: initialization, using: &g)
    }

    /// [B, nz] → [B, C, H, W] in [−1, 1].
    public func callAsFunction(_ z: Tensor) -> Tensor {
        let h = hidden2(hidden1(input(z).leakyRelu(slope: 0.2)).leakyRelu(slope: 0.2)).leakyRelu(slope: 0.2)
        return out(h).tanh(gradientRule: outputGradientRule).reshaped(to: [z.shape[0]] + imageShape)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("input_layer.0", input.namedParameters) + prefixed("hidden1.0", hidden1.namedParameters)
            + prefixed("hidden2.0", hidden2.namedParameters) + prefixed("out.0", out.namedParameters)
    }
}

/// xAI-GAN / LogicGAN fully connected discriminator: flatten → three Linear + LeakyReLU(0.2)
/// + Dropout(0.3) → Linear + sigmoid → [B, 1] real-probabilities. Dropout acts while
/// `isTraining` (the reference never switches to eval during training).
public final class DenseDiscriminator: Module {
    public let imageShape: [Int]
    let input: Linear, hidden1: Linear, hidden2: Linear, out: Linear
    public var dropoutProbability: Float
    public var isTraining = true
    /// Stream for dropout masks.
    public var dropoutGenerator: RandomGenerator

    public init(imageShape: [Int] = [1, 32, 32], hidden: [Int] = [1296, 512, 256], dropoutProbability: Float = 0.3,
                initialization: Initialization = .pytorchDefault, using g: inout RandomGenerator) {
        precondition(hidden.count == 3, "DenseDiscriminator takes three hidden widths")
        self.imageShape = imageShape; self.dropoutProbability = dropoutProbability
        input = Linear(inputFeatures: imageShape.reduce(1, *), outputFeatures: hidden[0], initialization: initialization, using: &g)
        hidden1 = Linear(inputFeatures: hidden[0], outputFeatures: hidden[1], initialization: initialization, using: &g)
        hidden2 = Linear(inputFeatures: hidden[1], outputFeatures: hidden[2], initialization: initialization, using: &g)
        out = Linear(inputFeatures: hidden[2], outputFeatures: 1, initialization: initialization, using: &g)
        dropoutGenerator = g.split()
    }

    /// [B, C, H, W] → [B, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x.reshaped(to: [x.shape[0], -1])
        for layer in [input, hidden1, hidden2] {
            h = layer(h).leakyRelu(slope: 0.2)
            if isTraining { h = h.dropout(probability: dropoutProbability, using: &dropoutGenerator) }
        }
        return out(h).sigmoid()
    }

    /// The discriminator split after its first Linear, without dropout (evaluation mode), for
    /// LIME's affine shortcut (`LimeExplainer.AffineHead`).
    public var limeHead: LimeExplainer.AffineHead {
        LimeExplainer.AffineHead(weight: input.weight, bias: input.bias!) { [hidden1, hidden2, out] pre in
            out(hidden2(hidden1(pre.leakyRelu(slope: 0.2)).leakyRelu(slope: 0.2)).leakyRelu(slope: 0.2)).sigmoid()
        }
    }

    /// The layers as (linear, activation) stages, for DeepLIFT.
    public var stages: [Linear] { [input, hidden1, hidden2, out] }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("input_layer.0", input.namedParameters) + prefixed("hidden1.0", hidden1.namedParameters)
            + prefixed("hidden2.0", hidden2.namedParameters) + prefixed("out.0", out.namedParameters)
    }
}
