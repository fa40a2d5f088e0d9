import CyclexEngine
import CyclexNN

/// The residual block of both generators (`docs/models.md#residual-block`):
///
///     x + IN(conv₂(ReflPad1(ReLU(IN(conv₁(ReflPad1(x)))))))
///
/// 3×3 convolutions with bias keeping the channel count, instance norm without affine.
/// Shapes: [B, C, H, W] → [B, C, H, W] with H, W ≥ 2.
public final class ResidualBlock: Module {
    /// How the block's parameters are named in its model's PyTorch code.
    public enum Naming: Sendable {
        /// junyanz `ResnetBlock`: a Sequential `conv_block` (pad, conv, norm, ReLU, pad, conv, norm).
        case junyanz
        /// The xAI-CycleGAN generator's block: attributes `conv1`, `conv2`.
        case xaiCycleGAN
    }

    public let naming: Naming
    let conv1: Conv2d, conv2: Conv2d

    public init(channels: Int, naming: Naming, initialization: Initialization, using g: inout RandomGenerator) {
        self.naming = naming
        conv1 = Conv2d(inputChannels: channels, outputChannels: channels, kernelSize: 3, initialization: initialization, using: &g)
        conv2 = Conv2d(inputChannels: channels, outputChannels: channels, kernelSize: 3, initialization: initialization, using: &g)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = conv1(x.padded(by: 1, mode: .reflect)).instanceNormalizedRectified(slope: 0)
        return x + conv2(h.padded(by: 1, mode: .reflect)).instanceNormalized()
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        switch naming {
        case .junyanz:
            return sequentialParameters("conv_block", [
                .parameterFree("ReflectionPad2d(1)"), .module(conv1), .parameterFree("InstanceNorm2d"),
                .parameterFree("ReLU"), .parameterFree("ReflectionPad2d(1)"), .module(conv2),
                .parameterFree("InstanceNorm2d"),
            ])
        case .xaiCycleGAN:
            return prefixed("conv1", conv1.namedParameters) + prefixed("conv2", conv2.namedParameters)
        }
    }
}
