import CyclexEngine
import CyclexModels
import Foundation
import Testing

/// LIME against known answers: a discriminator that reads one region only must be explained by
/// that region, the surrogate must recover exact linear data, and a seed fixes the result.
struct LimeExplainerTests {
    /// A toy discriminator on [n, 1, 16, 16]: sigmoid of the sum of squared pixels inside the
    /// rows/columns `region` (nothing else is read). Replacing a patch by its mean lowers the sum
    /// of squares (Jensen), so patches inside the region must get positive coefficients.
    static func regionDiscriminator(rows: Range<Int>, columns: Range<Int>, side: Int) -> (Tensor) -> Tensor {
        { x in
            let n = x.shape[0], per = x.count / n
            var out = [Float]()
            for i in 0..<n {
                var s: Float = 0
                for y in rows { for c in columns { let v = x.pointer[i * per + y * side + c]; s += v * v } }
                out.append(1 / (1 + exp(-(s - 8) / 4)))
            }
            return Tensor(shape: [n, 1], scalars: out)
        }
    }

    static func randomImages(_ count: Int, side: Int, seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor(randomUniform: [count, 1, side, side], lowerBound: -1, upperBound: 1, using: &g)
    }

    @Test func marksTheRegionTheDiscriminatorReads() {
        let side = 16
        let explainer = LimeExplainer(patchSize: 4, samples: 200)
        let (rows, columns) = (4..<12, 8..<16)  // patches (1,2) (1,3) (2,2) (2,3) of a 4×4 patch grid
        let inside: Set<Int> = [6, 7, 10, 11]
        let d = Self.regionDiscriminator(rows: rows, columns: columns, side: side)
        let images = Self.randomImages(3, side: side, seed: 11)
        var g = RandomGenerator(seed: 5)
        let maps = explainer.attributions(of: d, at: images, using: &g)
        #expect(maps.shape == images.shape)
        for i in 0..<3 {
            let per = side * side
            // One value per patch (read at its top-left pixel).
            let coefficient = (0..<16).map { maps.pointer[i * per + ($0 / 4) * 4 * side + ($0 % 4) * 4] }
            let ranked = (0..<16).sorted { abs(coefficient[$0]) > abs(coefficient[$1]) }
            #expect(Set(ranked.prefix(4)) == inside, "image \(i): top patches \(ranked.prefix(4)), coefficients \(coefficient)")
            let outsideLargest = (0..<16).filter { !inside.contains($0) }.map { abs(coefficient[$0]) }.max()!
            let insideSmallest = inside.map { coefficient[$0] }.min()!
            #expect(insideSmallest > 0)
            #expect(insideSmallest > 5 * outsideLargest, "inside \(insideSmallest) vs outside \(outsideLargest)")
            // Every pixel of a patch carries the patch's coefficient.
            #expect(maps.pointer[i * per + 5 * side + 9] == coefficient[6])
        }
    }

    @Test func sameSeedSameMapOtherSeedOtherMap() {
        let side = 16
        let explainer = LimeExplainer(patchSize: 4, samples: 40)
        let d = Self.regionDiscriminator(rows: 0..<8, columns: 0..<8, side: side)
        let images = Self.randomImages(2, side: side, seed: 3)
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9), c = RandomGenerator(seed: 10)
        let first = explainer.attributions(of: d, at: images, using: &a).scalars
        let second = explainer.attributions(of: d, at: images, using: &b).scalars
        let other = explainer.attributions(of: d, at: images, using: &c).scalars
        #expect(first == second)
        #expect(first != other)
    }

    /// The affine shortcut of the dense discriminator gives the perturbed-image path's coefficients
    /// (same perturbations; only the summation order of the first layer differs).
    @Test func affineHeadMatchesThePerturbedImages() {
        var g = RandomGenerator(seed: 21)
        let d = DenseDiscriminator(imageShape: [1, 16, 16], hidden: [40, 24, 12], using: &g)
        d.isTraining = false
        let explainer = LimeExplainer(patchSize: 4, samples: 30)
        let images = Self.randomImages(4, side: 16, seed: 6)
        let rows = [true, false, true, true]
        var a = RandomGenerator(seed: 2), b = RandomGenerator(seed: 2)
        let direct = explainer.attributions(of: { d($0) }, at: images, explain: rows, using: &a).scalars
        let shortcut = explainer.attributions(of: d.limeHead, at: images, explain: rows, using: &b).scalars
        let scale = direct.map { abs($0) }.max()!
        #expect(scale > 0)
        #expect(zip(direct, shortcut).allSatisfy { abs($0 - $1) <= 1e-3 * scale })
        #expect(a.state == b.state)  // the same draws
    }

    @Test func onlyRequestedRowsAreExplained() {
        let explainer = LimeExplainer(patchSize: 4, samples: 20)
        let d = Self.regionDiscriminator(rows: 0..<8, columns: 0..<8, side: 16)
        let images = Self.randomImages(3, side: 16, seed: 4)
        var g = RandomGenerator(seed: 1)
        let maps = explainer.attributions(of: d, at: images, explain: [false, true, false], using: &g)
        let per = 256
        #expect(maps.scalars[0..<per].allSatisfy { $0 == 0 })
        #expect(maps.scalars[(2 * per)...].allSatisfy { $0 == 0 })
        #expect(maps.scalars[per..<(2 * per)].contains { $0 != 0 })
    }

    /// Exact linear data with weights and no penalty: the surrogate returns the true slopes.
    @Test func ridgeRecoversExactLinearData() {
        let truth = [0.5, -2.0, 3.25]
        var g = RandomGenerator(seed: 2)
        let n = 30, p = 3
        var x = [Double](), y = [Double](), w = [Double]()
        for _ in 0..<n {
            let row = (0..<p).map { _ in Double(g.nextInt(below: 2)) + g.nextUniformDouble() }
            x += row
            y.append(1.5 + zip(row, truth).map(*).reduce(0, +))
            w.append(0.1 + g.nextUniformDouble())
        }
        let beta = LimeExplainer.weightedRidge(features: x, rows: n, columns: p, targets: y, weights: w, penalty: 0)
        for j in 0..<p { #expect(abs(beta[j] - truth[j]) < 1e-9, "β\(j) = \(beta[j])") }
        // A penalty shrinks the slopes towards 0 without flipping them.
        let shrunk = LimeExplainer.weightedRidge(features: x, rows: n, columns: p, targets: y, weights: w, penalty: 10)
        for j in 0..<p { #expect(abs(shrunk[j]) < abs(truth[j]) && shrunk[j].sign == truth[j].sign) }
    }
}
