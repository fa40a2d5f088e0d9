import CyclexEngine
import CyclexModels
@testable import CyclexTraining
import Testing

/// `--shap-baselines N` (docs/explanations.md#deepshap-baselines): DeepSHAP against the first N
/// background images only, an explicit approximation; without it every background image is used.
struct ShapBaselineCountTests {
    static func model(baselines count: Int?) -> SingleGANModel {
        var c = SingleGANConfiguration()
        c.explainer = .shap; c.shapBaselines = count
        c.denseGeneratorWidths = [16, 32, 64]; c.denseDiscriminatorWidths = [64, 32, 16]
        let model = c.makeModel(seed: 2)
        var g = RandomGenerator(seed: 6)
        model.shapBaselines = Tensor(randomUniform: [5, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        return model
    }

    @Test func theFirstNBackgroundImagesAndNoOthers() throws {
        var g = RandomGenerator(seed: 7)
        let fakes = Tensor(randomUniform: [4, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        let some = Self.model(baselines: 3), all = Self.model(baselines: nil)
        let d = try #require(some.discriminator as? DenseDiscriminator)
        let background = try #require(some.shapBaselines)
        let firstThree = Tensor(shape: [3, 1, 32, 32], scalars: Array(background.scalars[0..<(3 * 1024)]))
        let expected = GANExplanations.deepLiftShapMean(of: d, inputs: fakes, baselines: firstThree)
        #expect(some.computeAttributions(fakes).scalars == expected.scalars)
        let exact = GANExplanations.deepLiftShapMean(of: d, inputs: fakes, baselines: background)
        #expect(all.computeAttributions(fakes).scalars == exact.scalars)
        #expect(exact.scalars != expected.scalars)
        // As many as the background holds, or more, is the exact method.
        #expect(Self.model(baselines: 5).computeAttributions(fakes).scalars == exact.scalars)
    }

    @Test func onlyForShap() {
        var c = SingleGANConfiguration()
        c.explainer = .lime; c.shapBaselines = 8
        #expect(c.problem?.contains("--shap-baselines") == true)
        c.explainer = .shap
        #expect(c.problem == nil)
        c.shapBaselines = 0
        #expect(c.problem?.contains("--shap-baselines") == true)
    }
}
