import CyclexEngine

/// PyTorch `Conv2d` (zero padding): weight [Cout, Cin, k, k], optional bias [Cout].
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        hasBias: Bool = true, initialization: Initialization = .pytorchDefault, using generator: inout RandomGenerator
    ) {
        weight = Tensor(zeros: [outputChannels, inputChannels, kernelSize, kernelSize], requiresGradient: true)
        bias = hasBias ? Tensor(zeros: [outputChannels], requiresGradient: true) : nil
        self.stride = stride
        self.padding = padding
        initialization.initialize(weight: weight, bias: bias, using: &generator)
    }

    /// [B, Cin, H, W] → [B, Cout, H', W'].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// PyTorch `ConvTranspose2d`: weight [Cin, Cout, k, k], optional bias [Cout].
public final class ConvTranspose2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, outputPadding: Int

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        outputPadding: Int = 0, hasBias: Bool = true, initialization: Initialization = .pytorchDefault,
        using generator: inout RandomGenerator
    ) {
        weight = Tensor(zeros: [inputChannels, outputChannels, kernelSize, kernelSize], requiresGradient: true)
        bias = hasBias ? Tensor(zeros: [outputChannels], requiresGradient: true) : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        initialization.initialize(weight: weight, bias: bias, using: &generator)
    }

    /// [B, Cin, H, W] → [B, Cout, (H−1)·s − 2p + k + op, …].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.transposedConv2d(weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// PyTorch `Linear`: weight [out, in], optional bias [out].
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(
        inputFeatures: Int, outputFeatures: Int, hasBias: Bool = true,
        initialization: Initialization = .pytorchDefault, using generator: inout RandomGenerator
    ) {
        weight = Tensor(zeros: [outputFeatures, inputFeatures], requiresGradient: true)
        bias = hasBias ? Tensor(zeros: [outputFeatures], requiresGradient: true) : nil
        initialization.initialize(weight: weight, bias: bias, using: &generator)
    }

    /// [B, in] → [B, out].
    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// PyTorch `BatchNorm2d` with affine parameters and running statistics.
public final class BatchNorm2d: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVariance: Tensor
    /// Stored as a float tensor for uniform checkpointing; PyTorch keeps it as int64.
    public let batchesTracked: Tensor
    public var isTraining = true
    public let momentum: Float, epsilon: Float

    /// γ = 1, β = 0 (PyTorch), or γ ~ N(1, 0.02²), β = 0 with `dcganInitialization` (DCGAN).
    public init(features: Int, momentum: Float = 0.1, epsilon: Float = 1e-5, dcganInitialization: Bool = false,
                using generator: inout RandomGenerator) {
        weight = dcganInitialization
            ? Tensor(randomNormal: [features], mean: 1, standardDeviation: 0.02, using: &generator)
            : Tensor(repeating: 1, shape: [features])
        weight.requiresGradient = true
        bias = Tensor(zeros: [features], requiresGradient: true)
        runningMean = Tensor(zeros: [features])
        runningVariance = Tensor(repeating: 1, shape: [features])
        batchesTracked = Tensor(zeros: [])
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if isTraining { batchesTracked.pointer[0] += 1 }
        return x.batchNormalized(
            weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance,
            isTraining: isTraining, momentum: momentum, epsilon: epsilon)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
    public var namedBuffers: [(name: String, tensor: Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVariance), ("num_batches_tracked", batchesTracked)]
    }
}
