import CyclexEngine
import CyclexNN

/// xAI-GAN CIFAR generator (docs/models.md#dcgan): z [B, nz, 1, 1] → ConvT 4×4 s1 p0 → BN → ReLU, two
/// ConvT 4×4 s2 p1 → BN → ReLU, ConvT 4×4 s2 p1 → tanh → [B, 3, 32, 32]. No biases.
public final class DcganGenerator: Module {
    let input: ConvTranspose2d, hidden1: ConvTranspose2d, hidden2: ConvTranspose2d, out: ConvTranspose2d
    public let norms: [BatchNorm2d]
    public var outputGradientRule: OutputGradientRule?

    /// DCGAN initialisation (conv weights N(0, 0.02²), BN γ ~ N(1, 0.02²)) unless `initialization`
    /// is `.pytorchDefault`.
    public init(noiseSize nz: Int = 100, filters ngf: Int = 64, channels: Int = 3,
                initialization: Initialization = .normal002, using g: inout RandomGenerator) {
        func deconv(_ cin: Int, _ cout: Int, stride: Int, padding: Int) -> ConvTranspose2d {
            ConvTranspose2d(inputChannels: cin, outputChannels: cout, kernelSize: 4, stride: stride, padding: padding,
                            hasBias: false, initialization: initialization, using: &g)
        }
        input = deconv(nz, 8 * ngf, stride: 1, padding: 0)
        hidden1 = deconv(8 * ngf, 4 * ngf, stride: 2, padding: 1)
        hidden2 = deconv(4 * ngf, 2 * ngf, stride: 2, padding: 1)
        out = deconv(2 * ngf, channels, stride: 2, padding: 1)
        norms = [8 * ngf, 4 * ngf, 2 * ngf].map {
            BatchNorm2d(features: $0, dcganInitialization: initialization == .normal002, using: &g)
        }
    }

    public func callAsFunction(_ z: Tensor) -> Tensor {
        var h = norms[0](input(z)).relu()
        h = norms[1](hidden1(h)).relu()
        h = norms[2](hidden2(h)).relu()
        return out(h).tanh(gradientRule: outputGradientRule)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("input_layer.0", input.namedParameters) + prefixed("input_layer.1", norms[0].namedParameters)
            + prefixed("hidden1.0", hidden1.namedParameters) + prefixed("hidden1.1", norms[1].namedParameters)
            + prefixed("hidden2.0", hidden2.namedParameters) + prefixed("hidden2.1", norms[2].namedParameters)
            + prefixed("out.0", out.namedParameters)
    }

    public var namedBuffers: [(name: String, tensor: Tensor)] {
        prefixed("input_layer.1", norms[0].namedBuffers) + prefixed("hidden1.1", norms[1].namedBuffers)
            + prefixed("hidden2.1", norms[2].namedBuffers)
    }
}

/// xAI-GAN CIFAR discriminator: Conv 4×4 s2 p1 → LReLU, two Conv 4×4 s2 p1 → BN → LReLU,
/// Conv 4×4 s1 p0 → sigmoid → [B, 1, 1, 1]. No biases.
public final class DcganDiscriminator: Module {
    let input: Conv2d, hidden1: Conv2d, hidden2: Conv2d, out: Conv2d
    public let norms: [BatchNorm2d]

    public init(filters ndf: Int = 64, channels: Int = 3, initialization: Initialization = .normal002,
                using g: inout RandomGenerator) {
        func conv(_ cin: Int, _ cout: Int, stride: Int, padding: Int) -> Conv2d {
            Conv2d(inputChannels: cin, outputChannels: cout, kernelSize: 4, stride: stride, padding: padding,
                   hasBias: false, initialization: initialization, using: &g)
        }
        input = conv(channels, ndf, stride: 2, padding: 1)
        hidden1 = conv(ndf, 2 * ndf, stride: 2, padding: 1)
        hidden2 = conv(2 * ndf, 4 * ndf, stride: 2, padding: 1)
        out = conv(4 * ndf, 1, stride: 1, padding: 0)
        norms = [2 * ndf, 4 * ndf].map { BatchNorm2d(features: $0, dcganInitialization: initialization == .normal002, using: &g) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = input(x).leakyRelu(slope: 0.2)
        h = norms[0](hidden1(h)).leakyRelu(slope: 0.2)
        h = norms[1](hidden2(h)).leakyRelu(slope: 0.2)
        return out(h).sigmoid()
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("input_layer.0", input.namedParameters) + prefixed("hidden1.0", hidden1.namedParameters)
            + prefixed("hidden1.1", norms[0].namedParameters) + prefixed("hidden2.0", hidden2.namedParameters)
            + prefixed("hidden2.1", norms[1].namedParameters) + prefixed("out.0", out.namedParameters)
    }

    public var namedBuffers: [(name: String, tensor: Tensor)] {
        prefixed("hidden1.1", norms[0].namedBuffers) + prefixed("hidden2.1", norms[1].namedBuffers)
    }
}
