import CyclexEngine
import CyclexNN

/// junyanz `ResnetGenerator` (docs/models.md#resnet-generator): reflection-padded 7×7 stem, two stride-2 downs,
/// `residualBlocks` residual blocks at 4·ngf, two transposed-conv ups, 7×7 output conv, tanh.
/// Instance norm without affine, every conv with bias. Input sides divisible by 4.
///
/// Parameter names follow junyanz's `model.<i>` indices, so official checkpoints load as-is.
public final class ResnetGenerator: Module {
    public let filters: Int, residualBlocks: Int
    let stem: Conv2d, down1: Conv2d, down2: Conv2d
    let blocks: [ResidualBlock]
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
        blocks = (0..<n).map { _ in ResidualBlock(channels: 4 * ngf, naming: .junyanz, initialization: i, using: &g) }
        up1 = ConvTranspose2d(inputChannels: 4 * ngf, outputChannels: 2 * ngf, kernelSize: 3, stride: 2, padding: 1,
                              outputPadding: 1, initialization: i, using: &g)
        up2 = ConvTranspose2d(inputChannels: 2 * ngf, outputChannels: ngf, kernelSize: 3, stride: 2, padding: 1,
                              outputPadding: 1, initialization: i, using: &g)
        head = Conv2d(inputChannels: ngf, outputChannels: outputChannels, kernelSize: 7, initialization: i, using: &g)
    }

    /// [B, 3, H, W] in [−1, 1] → [B, 3, H, W] in [−1, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = stem(x.padded(by: 3, mode: .reflect)).instanceNormalizedRectified(slope: 0)
        h = down1(h).instanceNormalizedRectified(slope: 0)
        h = down2(h).instanceNormalizedRectified(slope: 0)
        for block in blocks { h = block(h) }
        h = up1(h).instanceNormalizedRectified(slope: 0)
        h = up2(h).instanceNormalizedRectified(slope: 0)
        return head(h.padded(by: 3, mode: .reflect)).tanh(gradientRule: outputGradientRule)
    }

    /// junyanz's `nn.Sequential` child by child; parameters are named `model.<position>`.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        let stage: [SequentialChild] = [.parameterFree("InstanceNorm2d"), .parameterFree("ReLU")]
        return sequentialParameters("model", [.parameterFree("ReflectionPad2d(3)"), .module(stem)] + stage
            + [.module(down1)] + stage + [.module(down2)] + stage
            + blocks.map { .module($0) }
            + [.module(up1)] + stage + [.module(up2)] + stage
            + [.parameterFree("ReflectionPad2d(3)"), .module(head), .parameterFree("Tanh")])
    }
}
