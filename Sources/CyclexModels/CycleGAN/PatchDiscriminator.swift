import CyclexEngine
import CyclexNN

/// 70×70 PatchGAN (docs/models.md#patchgan-discriminator): k4 convs s2, s2, s2, s1, s1 with LeakyReLU 0.2 and
/// instance norm on the middle three; outputs a [B, 1, h, w] map of patch scores (no sigmoid).
/// Parameter names follow junyanz's Sequential (`model.0/2/5/8/11`).
public final class PatchDiscriminator: Module {
    public let filters: Int
    let convs: [Conv2d]

    public init(filters ndf: Int = 64, inputChannels: Int = 3, initialization: Initialization = .normal002,
                using g: inout RandomGenerator) {
        filters = ndf
        let channels = [inputChannels, ndf, 2 * ndf, 4 * ndf, 8 * ndf, 1]
        let strides = [2, 2, 2, 1, 1]
        convs = (0..<5).map { k in
            Conv2d(inputChannels: channels[k], outputChannels: channels[k + 1], kernelSize: 4, stride: strides[k],
                   padding: 1, initialization: initialization, using: &g)
        }
    }

    /// [B, C, H, W] → [B, 1, H/8 − 2, W/8 − 2] patch scores.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convs[0](x).leakyRelu(slope: 0.2)
        for k in 1...3 { h = convs[k](h).instanceNormalizedRectified(slope: 0.2) }
        return convs[4](h)
    }

    /// junyanz's `nn.Sequential` child by child; parameters are named `model.<position>`.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        let middle: [SequentialChild] = [.parameterFree("InstanceNorm2d"), .parameterFree("LeakyReLU(0.2)")]
        return sequentialParameters("model", [.module(convs[0]), .parameterFree("LeakyReLU(0.2)")]
            + [.module(convs[1])] + middle + [.module(convs[2])] + middle + [.module(convs[3])] + middle
            + [.module(convs[4])])
    }
}
