import CyclexEngine
import CyclexNN

/// LeNet-5, the FID/KID feature extractor of the xAI-GAN evaluation (docs/models.md#lenet-5):
/// [B, 1, 32, 32] in [0, 1] → c1 5×5 (6) tanh, max 2 → c3 5×5 (16) tanh, max 2 →
/// c5 5×5 (120) tanh → f6 (84) tanh [features] → f7 (10) → log-softmax.
public final class LeNet5: Module {
    let c1: Conv2d, c3: Conv2d, c5: Conv2d, f6: Linear, f7: Linear

    public init(using g: inout RandomGenerator) {
        c1 = Conv2d(inputChannels: 1, outputChannels: 6, kernelSize: 5, using: &g)
        c3 = Conv2d(inputChannels: 6, outputChannels: 16, kernelSize: 5, using: &g)
        c5 = Conv2d(inputChannels: 16, outputChannels: 120, kernelSize: 5, using: &g)
        f6 = Linear(inputFeatures: 120, outputFeatures: 84, using: &g)
        f7 = Linear(inputFeatures: 84, outputFeatures: 10, using: &g)
    }

    /// The 84-d tanh(f6) activations used for FID/KID, [B, 84].
    public func features(_ x: Tensor) -> Tensor {
        var h = c1(x).tanh().maxPooled2x2()
        h = c3(h).tanh().maxPooled2x2()
        h = c5(h).tanh()
        return f6(h.reshaped(to: [x.shape[0], -1])).tanh()
    }

    /// Class log-probabilities, [B, 10].
    public func callAsFunction(_ x: Tensor) -> Tensor { f7(features(x)).logSoftmax() }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("convnet.c1", c1.namedParameters) + prefixed("convnet.c3", c3.namedParameters)
            + prefixed("convnet.c5", c5.namedParameters) + prefixed("fc.f6", f6.namedParameters)
            + prefixed("fc.f7", f7.namedParameters)
    }
}
