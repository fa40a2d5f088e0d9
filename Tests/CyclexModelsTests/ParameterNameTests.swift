import CyclexEngine
import CyclexModels
import CyclexNN
import Testing

/// PyTorch state-dict names of the junyanz networks for several depths: the positions of
/// junyanz's `nn.Sequential` (pad, conv, norm, ReLU per stage; one child per residual block).
struct ParameterNameTests {
    @Test(arguments: [1, 3, 9])
    func resnetGeneratorNamesFollowTheSequential(blocks n: Int) {
        var g = RandomGenerator(seed: 1)
        let generator = ResnetGenerator(filters: 2, residualBlocks: n, using: &g)
        var expected = ["model.1", "model.4", "model.7"]
        for k in 0..<n { expected += ["model.\(10 + k).conv_block.1", "model.\(10 + k).conv_block.5"] }
        expected += ["model.\(10 + n)", "model.\(13 + n)", "model.\(17 + n)"]
        #expect(generator.namedParameters.map(\.name) == expected.flatMap { ["\($0).weight", "\($0).bias"] })
    }

    @Test func patchDiscriminatorNamesFollowTheSequential() {
        var g = RandomGenerator(seed: 1)
        let d = PatchDiscriminator(filters: 2, using: &g)
        #expect(d.namedParameters.map(\.name) == [0, 2, 5, 8, 11].flatMap { ["model.\($0).weight", "model.\($0).bias"] })
    }

    @Test func xaiResidualBlocksAreAModuleList() {
        var g = RandomGenerator(seed: 1)
        let generator = XaiGenerator(filters: 2, residualBlocks: 2, using: &g)
        let names = generator.namedParameters.map(\.name).filter { $0.hasPrefix("res_blocks.") }
        #expect(names == (0..<2).flatMap { k in ["conv1", "conv2"].flatMap { ["res_blocks.\(k).\($0).weight", "res_blocks.\(k).\($0).bias"] } })
    }
}
