import CyclexEngine
import CyclexNN
import Testing

/// Initialisation statistics as in docs/models.md#initialisation: uniform U(−b, b) with b = 1/√fan_in
/// (ConvTranspose2d: fan_in = Cout·k·k, PyTorch's quirk), N(0, 0.02²) with zero bias, BatchNorm
/// defaults and the DCGAN N(1, 0.02²) BatchNorm weight. Bounds are the README's 4σ checks
/// (failure probability < 1e-4 each); seeds are fixed, so the tests are deterministic.
@Suite struct InitializationTests {
    struct Moments {
        let n: Int, mean: Double, std: Double, maxAbs: Double
        init(_ t: Tensor) {
            let v = t.scalars.map(Double.init)
            n = v.count
            mean = v.reduce(0, +) / Double(n)
            let m = mean
            std = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n)).squareRoot()
            maxAbs = v.map(abs).max() ?? 0
        }
    }

    /// README: every |w| ≤ b, |mean| ≤ 4b/√(3n), |std − b/√3| ≤ 4(b/√3)√(0.2/n) (n ≥ 1000).
    /// The bound itself is a float32, so |w| may exceed the exact b by its rounding (≤ 1e-7 relative).
    func expectUniform(_ t: Tensor, bound b: Double, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let s = Moments(t)
        #expect(s.n >= 1000, "\(label): too few values for the moment checks", sourceLocation: sourceLocation)
        #expect(s.maxAbs <= b * (1 + 1e-6), "\(label): max |w| \(s.maxAbs) > b \(b)", sourceLocation: sourceLocation)
        #expect(abs(s.mean) <= 4 * b / (3 * Double(s.n)).squareRoot(), "\(label): mean \(s.mean)", sourceLocation: sourceLocation)
        let sigma = b / 3.0.squareRoot()
        #expect(abs(s.std - sigma) <= 4 * sigma * (0.2 / Double(s.n)).squareRoot(),
                "\(label): std \(s.std), expected \(sigma)", sourceLocation: sourceLocation)
    }

    /// README: |mean − μ| ≤ 4s/√n, |std − s| ≤ 4s/√(2n) (n ≥ 1000).
    func expectNormal(_ t: Tensor, mean mu: Double, std sigma: Double, _ label: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let s = Moments(t)
        #expect(s.n >= 1000, "\(label): too few values for the moment checks", sourceLocation: sourceLocation)
        #expect(abs(s.mean - mu) <= 4 * sigma / Double(s.n).squareRoot(), "\(label): mean \(s.mean)", sourceLocation: sourceLocation)
        #expect(abs(s.std - sigma) <= 4 * sigma / (2 * Double(s.n)).squareRoot(), "\(label): std \(s.std)",
                sourceLocation: sourceLocation)
    }

    @Test func pytorchDefaultConv2d() {
        var g = RandomGenerator(seed: 1)
        let conv = Conv2d(inputChannels: 16, outputChannels: 32, kernelSize: 3, using: &g)
        let b = 1 / (16.0 * 9).squareRoot()
        expectUniform(conv.weight, bound: b, "Conv2d weight")
        let bias = Moments(conv.bias!)
        #expect(bias.maxAbs <= b * (1 + 1e-6) && bias.maxAbs > 0)
        #expect(conv.weight.requiresGradient && conv.bias!.requiresGradient)
        // The bias bound is the weight's: a larger layer gives enough bias values to check moments.
        var g2 = RandomGenerator(seed: 2)
        let wide = Conv2d(inputChannels: 2, outputChannels: 3000, kernelSize: 1, using: &g2)
        expectUniform(wide.bias!, bound: 1 / 2.0.squareRoot(), "Conv2d bias")
    }

    @Test func pytorchDefaultConvTransposeUsesCoutFanIn() {
        var g = RandomGenerator(seed: 3)
        // weight [Cin 64, Cout 16, 4, 4]: fan_in = Cout·k·k = 256, b = 1/16 (not 1/√(64·16) = 1/32).
        let deconv = ConvTranspose2d(inputChannels: 64, outputChannels: 16, kernelSize: 4, stride: 2, padding: 1, using: &g)
        #expect(deconv.weight.shape == [64, 16, 4, 4])
        let b = 1 / (16.0 * 16).squareRoot()
        expectUniform(deconv.weight, bound: b, "ConvTranspose2d weight")
        #expect(Moments(deconv.weight).maxAbs > 1.0 / 32, "bound looks like Cin·k·k fan-in")
        #expect(Moments(deconv.bias!).maxAbs <= b * (1 + 1e-6))
        // README example: ResnetGenerator model.19 (256 → 128, k3): b = 1/√1152 ≈ 0.0295.
        var g2 = RandomGenerator(seed: 4)
        let big = ConvTranspose2d(inputChannels: 256, outputChannels: 128, kernelSize: 3, using: &g2)
        expectUniform(big.weight, bound: 1 / 1152.0.squareRoot(), "ConvTranspose2d 256→128 weight")
        #expect(abs(1 / 1152.0.squareRoot() - 0.0295) < 5e-5)
    }

    @Test func pytorchDefaultLinear() {
        var g = RandomGenerator(seed: 5)
        // README example: DenseGenerator input_layer.0, fan_in 100, b = 0.1.
        let linear = Linear(inputFeatures: 100, outputFeatures: 64, using: &g)
        expectUniform(linear.weight, bound: 0.1, "Linear weight")
        #expect(Moments(linear.bias!).maxAbs <= 0.1 * (1 + 1e-6))
        var g2 = RandomGenerator(seed: 6)
        let wide = Linear(inputFeatures: 4, outputFeatures: 2000, using: &g2)
        expectUniform(wide.bias!, bound: 0.5, "Linear bias")
    }

    @Test func normal002() {
        var g = RandomGenerator(seed: 7)
        let conv = Conv2d(inputChannels: 8, outputChannels: 16, kernelSize: 4, initialization: .normal002, using: &g)
        expectNormal(conv.weight, mean: 0, std: 0.02, "Conv2d N(0, 0.02²)")
        #expect(conv.bias!.scalars.allSatisfy { $0 == 0 })
        let deconv = ConvTranspose2d(inputChannels: 16, outputChannels: 8, kernelSize: 3, initialization: .normal002, using: &g)
        expectNormal(deconv.weight, mean: 0, std: 0.02, "ConvTranspose2d N(0, 0.02²)")
        #expect(deconv.bias!.scalars.allSatisfy { $0 == 0 })
        let linear = Linear(inputFeatures: 50, outputFeatures: 40, initialization: .normal002, using: &g)
        expectNormal(linear.weight, mean: 0, std: 0.02, "Linear N(0, 0.02²)")
        #expect(linear.bias!.scalars.allSatisfy { $0 == 0 })
        let noBias = Conv2d(inputChannels: 8, outputChannels: 16, kernelSize: 4, hasBias: false, initialization: .normal002, using: &g)
        #expect(noBias.bias == nil)
        #expect(noBias.namedParameters.map(\.name) == ["weight"])
    }

    @Test func initializationNames() {
        #expect(Initialization(rawValue: "pytorch-default") == .pytorchDefault)
        #expect(Initialization(rawValue: "normal-0.02") == .normal002)
        #expect(Initialization.allCases.count == 2)
    }

    @Test func batchNormDefaults() {
        var g = RandomGenerator(seed: 8)
        let bn = BatchNorm2d(features: 6, using: &g)
        #expect(bn.weight.scalars == [Float](repeating: 1, count: 6))
        #expect(bn.bias.scalars == [Float](repeating: 0, count: 6))
        #expect(bn.runningMean.scalars == [Float](repeating: 0, count: 6))
        #expect(bn.runningVariance.scalars == [Float](repeating: 1, count: 6))
        #expect(bn.batchesTracked.scalars == [0])
        #expect(bn.momentum == 0.1 && bn.epsilon == 1e-5)
        #expect(bn.weight.requiresGradient && bn.bias.requiresGradient)
        #expect(!bn.runningMean.requiresGradient && !bn.runningVariance.requiresGradient)
        #expect(bn.namedParameters.map(\.name) == ["weight", "bias"])
        #expect(bn.namedBuffers.map(\.name) == ["running_mean", "running_var", "num_batches_tracked"])
        // The default draws nothing from the generator.
        var fresh = RandomGenerator(seed: 8)
        #expect(g.next() == fresh.next())
    }

    @Test func batchNormDcganInitialization() {
        var g = RandomGenerator(seed: 9)
        let bn = BatchNorm2d(features: 4000, dcganInitialization: true, using: &g)
        expectNormal(bn.weight, mean: 1, std: 0.02, "BatchNorm DCGAN weight")
        #expect(bn.bias.scalars.allSatisfy { $0 == 0 })
        #expect(bn.runningMean.scalars.allSatisfy { $0 == 0 })
        #expect(bn.runningVariance.scalars.allSatisfy { $0 == 1 })
        #expect(bn.weight.requiresGradient)
    }

    @Test func seededReproducibility() {
        for initialization in Initialization.allCases {
            var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
            let ca = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, initialization: initialization, using: &a)
            let cb = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, initialization: initialization, using: &b)
            let cc = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, initialization: initialization, using: &c)
            #expect(ca.weight.scalars == cb.weight.scalars)
            #expect(ca.bias!.scalars == cb.bias!.scalars)
            #expect(ca.weight.scalars != cc.weight.scalars)
            // The generator advanced: the next layer from the same stream differs.
            let next = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, initialization: initialization, using: &a)
            #expect(next.weight.scalars != ca.weight.scalars)
            _ = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, initialization: initialization, using: &b)
            #expect(a.state == b.state)
        }
        var a = RandomGenerator(seed: 11), b = RandomGenerator(seed: 11)
        #expect(BatchNorm2d(features: 5, dcganInitialization: true, using: &a).weight.scalars
                == BatchNorm2d(features: 5, dcganInitialization: true, using: &b).weight.scalars)
    }
}
