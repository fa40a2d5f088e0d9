import CyclexEngine
import CyclexNN

/// junyanz `ResnetGenerator` (SPEC §1.1): reflection-padded 7×7 stem, two stride-2 downs,
/// `residualBlocks` residual blocks at 4·ngf, two transposed-conv ups, 7×7 output conv, tanh.
/// Instance norm without affine, every conv with bias. Input sides divisible by 4.
///
/// Parameter names follow junyanz's `model.<i>` indices, so official checkpoints load as-is.
public final class ResnetGenerator: Module {
    public let filters: Int, residualBlocks: Int
    let stem: Conv2d, down1: Conv2d, down2: Conv2d
    let blocks: [(Conv2d, Conv2d)]
    let up1: ConvTranspose2d, up2: ConvTranspose2d
    let head: Conv2d
    /// Replaces the tanh derivative at the output (the xAI gradient rules); nil = plain tanh.
    public var outputGradientRule: OutputGradientRule?

    public init(
        filters ngf: Int = 64, residualBlocks n: Int = 9, inputChannels: Int = 3, outputChannels: Int = 3,
        initialization: Initialization = .normal002, using g: inout RandomGenerator
    ) {
        filters = ngf; residualBlocks = n
        let i = initialization
        stem = Conv2d(inputChannels: inputChannels, outputChannels: ngf, kernelSize: 7, initialization: i, using: &g)
        down1 = Conv2d(inputChannels: ngf, outputChannels: 2 * ngf, kernelSize: 3, stride: 2, padding: 1, initialization: i, using: &g)
        down2 = Conv2d(inputChannels: 2 * ngf, outputChannels: 4 * ngf, kernelSize: 3, stride: 2, padding: 1, initialization: i, using: &g)
        blocks = (0..<n).map { _ in
            (Conv2d(inputChannels: 4 * ngf, outputChannels: 4 * ngf, kernelSize: 3, initialization: i, using: &g),
             Conv2d(inputChannels: 4 * ngf, outputChannels: 4 * ngf, kernelSize: 3, initialization: i, using: &g))
        }
        up1 = ConvTranspose2d(inputChannels: 4 * ngf, outputChannels: 2 * ngf, kernelSize: 3, stride: 2, padding: 1,
                              outputPadding: 1, initialization: i, using: &g)
        up2 = ConvTranspose2d(inputChannels: 2 * ngf, outputChannels: ngf, kernelSize: 3, stride: 2, padding: 1,
                              outputPadding: 1, initialization: i, using: &g)
        head = Conv2d(inputChannels: ngf, outputChannels: outputChannels, kernelSize: 7, initialization: i, using: &g)
    }

    /// [B, 3, H, W] in [−1, 1] → [B, 3, H, W] in [−1, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = stem(x.padded(by: 3, mode: .reflect)).instanceNormalized().relu()
        h = down1(h).instanceNormalized().relu()
        h = down2(h).instanceNormalized().relu()
        for (conv1, conv2) in blocks {
            let r = conv1(h.padded(by: 1, mode: .reflect)).instanceNormalized().relu()
            h = h + conv2(r.padded(by: 1, mode: .reflect)).instanceNormalized()
        }
        h = up1(h).instanceNormalized().relu()
        h = up2(h).instanceNormalized().relu()
        return head(h.padded(by: 3, mode: .reflect)).tanh(gradientRule: outputGradientRule)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        let n = residualBlocks
        var all = prefixed("model.1", stem.namedParameters) + prefixed("model.4", down1.namedParameters)
            + prefixed("model.7", down2.namedParameters)
        for (k, (c1, c2)) in blocks.enumerated() {
            all += prefixed("model.\(10 + k).conv_block.1", c1.namedParameters)
            all += prefixed("model.\(10 + k).conv_block.5", c2.namedParameters)
        }
        return all + prefixed("model.\(10 + n)", up1.namedParameters) + prefixed("model.\(13 + n)", up2.namedParameters)
            + prefixed("model.\(17 + n)", head.namedParameters)
    }
}
