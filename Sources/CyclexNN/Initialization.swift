import CyclexEngine

/// Weight initialisation schemes (docs/models.md#initialisation).
public enum Initialization: String, Sendable, Codable, CaseIterable {
    /// PyTorch's default: weight and bias ~ U(−b, b), b = 1/√fan_in, fan_in = weight.shape[1]·kh·kw.
    /// For ConvTranspose2d weight.shape[1] is Cout, so fan_in = Cout·k·k (PyTorch's quirk, kept).
    case pytorchDefault = "pytorch-default"
    /// junyanz CycleGAN: conv/linear weights ~ N(0, 0.02²), biases 0.
    case normal002 = "normal-0.02"

    /// Fills a conv/linear `weight` (shape [d0, d1, kh, kw] or [out, in]) and its `bias`.
    public func initialize(weight: Tensor, bias: Tensor?, using generator: inout RandomGenerator) {
        switch self {
        case .pytorchDefault:
            let fanIn = weight.shape.dropFirst().reduce(1, *)
            let bound = 1 / Float(fanIn).squareRoot()
            weight.assign(Tensor(randomUniform: weight.shape, lowerBound: -bound, upperBound: bound, using: &generator))
            if let bias {
                bias.assign(Tensor(randomUniform: bias.shape, lowerBound: -bound, upperBound: bound, using: &generator))
            }
        case .normal002:
            weight.assign(Tensor(randomNormal: weight.shape, mean: 0, standardDeviation: 0.02, using: &generator))
            bias?.assign(Tensor(zeros: bias!.shape))
        }
    }
}
