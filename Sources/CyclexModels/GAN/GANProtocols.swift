import CyclexEngine
import CyclexNN

/// A generator from noise whose last block is tanh with a replaceable gradient rule.
public protocol NoiseImageGenerator: Module {
    var outputGradientRule: OutputGradientRule? { get set }
    /// Noise → images in [−1, 1].
    func callAsFunction(_ noise: Tensor) -> Tensor
}

/// A discriminator that outputs real-probabilities, one per image.
public protocol ProbabilityDiscriminator: Module {
    func callAsFunction(_ images: Tensor) -> Tensor
}

extension DenseGenerator: NoiseImageGenerator {}
extension DcganGenerator: NoiseImageGenerator {}
extension DenseDiscriminator: ProbabilityDiscriminator {}
extension DcganDiscriminator: ProbabilityDiscriminator {}
