import CyclexEngine
import CyclexNN

/// The xAI-CycleGAN generator as cyclex trains it (docs/models.md#xai-cyclegan-generator): a
/// soft-mask input encoder and a U-shaped ResNet with additive skips.
///
///     u = mask_fusion(cat(x⊙M, M));  c = context_fusion(cat(x⊙(1−M), 1−M))      (1×1 convs)
///     e1 = enc1(ReflPad3(u)) (7×7);  e2, e3, e4 = stride-2 3×3 downs (IN, ReLU)
///     r = residual blocks(e4);  d1 = dec1(r + e4);  d2 = dec2(d1 + e3);  d3 = dec3(d2 + e2)
///     h = head(ReflPad3(d3 + e1)) (7×7, IN, ReLU);  pre = final(ReflPad1(h)) (3×3)
///     y = tanh(pre) + c
///
/// x and M are [B, 3, H, W] with H, W divisible by 8.
public final class XaiGenerator: Module {
    public enum UpActivation: String, Sendable, Codable { case leakyRelu = "leaky-relu", relu }

    public let filters: Int, residualBlocks: Int, upActivation: UpActivation
    let maskFusion: Conv2d, contextFusion: Conv2d
    let enc1: Conv2d, enc2: Conv2d, enc3: Conv2d, enc4: Conv2d
    let blocks: [ResidualBlock]
    let dec1: ConvTranspose2d, dec2: ConvTranspose2d, dec3: ConvTranspose2d
    let head: Conv2d, final: Conv2d
    /// Replaces the tanh derivative at `pre` for every call (the λ-adaptive saliency rule).
    public var outputGradientRule: OutputGradientRule?

    /// Intermediate tensors of one call, for tests and diagnostics.
    public struct Parts {
        public let output: Tensor, preTanh: Tensor, context: Tensor, maskFused: Tensor, bottleneck: Tensor
    }

    public init(
        filters ngf: Int = 32, residualBlocks n: Int = 8, upActivation: UpActivation = .leakyRelu, channels: Int = 3,
        initialization: Initialization = .pytorchDefault, using g: inout RandomGenerator
    ) {
        filters = ngf; residualBlocks = n; self.upActivation = upActivation
        let i = initialization
        func conv(_ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, padding: Int = 0) -> Conv2d {
            Conv2d(inputChannels: cin, outputChannels: cout, kernelSize: k, stride: stride, padding: padding,
                   initialization: i, using: &g)
        }
        func deconv(_ cin: Int, _ cout: Int) -> ConvTranspose2d {
            ConvTranspose2d(inputChannels: cin, outputChannels: cout, kernelSize: 3, stride: 2, padding: 1,
                            outputPadding: 1, initialization: i, using: &g)
        }
        maskFusion = conv(2 * channels, channels, 1)
        contextFusion = conv(2 * channels, channels, 1)
        enc1 = conv(channels, ngf, 7)
        enc2 = conv(ngf, 2 * ngf, 3, stride: 2, padding: 1)
        enc3 = conv(2 * ngf, 4 * ngf, 3, stride: 2, padding: 1)
        enc4 = conv(4 * ngf, 8 * ngf, 3, stride: 2, padding: 1)
        blocks = (0..<n).map { _ in ResidualBlock(channels: 8 * ngf, naming: .xaiCycleGAN, initialization: i, using: &g) }
        dec1 = deconv(8 * ngf, 4 * ngf)
        dec2 = deconv(4 * ngf, 2 * ngf)
        dec3 = deconv(2 * ngf, ngf)
        head = conv(ngf, ngf, 7)
        final = conv(ngf, channels, 3)
    }

    /// Translates `x` under soft mask `mask` (same shape as x).
    public func callAsFunction(_ x: Tensor, mask: Tensor) -> Tensor { parts(x, mask: mask).output }

    public func parts(_ x: Tensor, mask m: Tensor) -> Parts {
        precondition(x.shape == m.shape, "mask \(m.shape) must have the image's shape \(x.shape)")
        let inverse = 1 - m
        let u = maskFusion(Tensor.concatenate([x * m, m], alongAxis: 1))
        let c = contextFusion(Tensor.concatenate([x * inverse, inverse], alongAxis: 1))
        let e1 = enc1(u.padded(by: 3, mode: .reflect)).instanceNormalizedRectified(slope: 0)
        let e2 = enc2(e1).instanceNormalizedRectified(slope: 0)
        let e3 = enc3(e2).instanceNormalizedRectified(slope: 0)
        let e4 = enc4(e3).instanceNormalizedRectified(slope: 0)
        var r = e4
        for block in blocks { r = block(r) }
        let d1 = normalizeAndActivate(dec1(r + e4))
        let d2 = normalizeAndActivate(dec2(d1 + e3))
        let d3 = normalizeAndActivate(dec3(d2 + e2))
        let h = head((d3 + e1).padded(by: 3, mode: .reflect)).instanceNormalizedRectified(slope: 0)
        let pre = final(h.padded(by: 1, mode: .reflect))
        let y = pre.tanh(gradientRule: outputGradientRule) + c
        return Parts(output: y, preTanh: pre, context: c, maskFused: u, bottleneck: e4)
    }

    func normalizeAndActivate(_ x: Tensor) -> Tensor {
        x.instanceNormalizedRectified(slope: upActivation == .leakyRelu ? 0.2 : 0)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("mask_fusion.conv", maskFusion.namedParameters)
            + prefixed("context_fusion.conv", contextFusion.namedParameters)
            + prefixed("enc1.conv", enc1.namedParameters) + prefixed("enc2.conv", enc2.namedParameters)
            + prefixed("enc3.conv", enc3.namedParameters) + prefixed("enc4.conv", enc4.namedParameters)
            + sequentialParameters("res_blocks", blocks.map { .module($0) })  // an nn.ModuleList
            + prefixed("dec1.deconv", dec1.namedParameters) + prefixed("dec2.deconv", dec2.namedParameters)
            + prefixed("dec3.deconv", dec3.namedParameters) + prefixed("head.conv", head.namedParameters)
            + prefixed("final.conv", final.namedParameters)
    }
}
