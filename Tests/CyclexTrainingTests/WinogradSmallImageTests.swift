import CyclexEngine
@testable import CyclexInference
import CyclexTestSupport
import Testing

/// Winograd on small and narrow images (`cwinograd_small.h`: planes of at most 64 pixels, e.g.
/// the 8 × 8 residual blocks of xAI-CycleGAN at 64 px; images at most 16 wide, e.g. CycleGAN's
/// 16 × 16 ones): their in-register transforms and fused norm do the same operations as the
/// general row-buffer path, so the two must give the same bits, with and without the fused
/// instance norm, activation and residual sum, for reflection and zero padding, odd output sizes
/// (partial tiles), an odd input channel count (a bf16 channel pair with one member), batch 2,
/// and (narrow) chunks of one tile row.
struct WinogradSmallImageTests {
    @Test(arguments: InferencePrecision.allCases)
    func narrowSameBitsAsTheGeneralPath(precision: InferencePrecision) throws {
        guard TileConvolution.available && (precision == .f32 || BFloat16Support.isAvailable) else { return }
        var g = RandomGenerator(seed: 8)
        let (cin, cout) = (33, 48)
        let weight = Tensor(randomUniform: [cout, cin, 3, 3], lowerBound: -0.2, upperBound: 0.2, using: &g)
        let bias = Tensor(randomUniform: [cout], lowerBound: -1, upperBound: 1, using: &g)
        // (height, width, reflection padding, zero padding): 64, 56, 64, 32 and 56 tiles.
        for (h, w, reflect, zero) in [(16, 16, 1, 0), (16, 13, 1, 0), (15, 16, 0, 1), (8, 16, 1, 0), (18, 16, 0, 0)] {
            let layer = InferenceConvolution(weight: weight, bias: bias, padding: zero, precision: precision)
            #expect(layer.usesNarrowWinograd(height: h, width: w, pad: reflect + zero), "\(h)×\(w) took another path")
            let (outH, outW) = (h + 2 * (reflect + zero) - 2, w + 2 * (reflect + zero) - 2)
            let x = Tensor(randomUniform: [2, cin, h, w], lowerBound: -1, upperBound: 1, using: &g)
            let skip = Tensor(randomUniform: [2, cout, outH, outW], lowerBound: -1, upperBound: 1, using: &g)
            for band in [nil, 1] {
                func both(_ run: () -> Tensor) -> (Tensor, Tensor) {
                    InferenceConvolution.$bandFloatsOverride.withValue(band) {
                        (InferenceConvolution.$narrowWinogradOverride.withValue(true, operation: run),
                         InferenceConvolution.$narrowWinogradOverride.withValue(false, operation: run))
                    }
                }
                let label = "\(precision) \(h)×\(w) pad \(reflect)+\(zero) band \(band.map(String.init) ?? "whole")"
                let (plain, plainGeneral) = both { layer(x, reflectPadding: reflect) }
                #expect(plain.shape == [2, cout, outH, outW])
                #expect(plain.scalars == plainGeneral.scalars, "\(label), with bias")
                let cases: [(FusedActivation, Tensor?)] = [(.relu, nil), (.leakyRelu(0.2), nil), (.none, skip)]
                for (activation, residual) in cases {
                    let (fused, general) = both {
                        layer.normalized(x, reflectPadding: reflect, activation: activation, adding: residual)
                    }
                    #expect(fused.scalars == general.scalars, "\(label), \(activation)")
                }
            }
        }
    }

    @Test(arguments: InferencePrecision.allCases)
    func sameBitsAsTheGeneralPath(precision: InferencePrecision) throws {
        guard TileConvolution.available && (precision == .f32 || BFloat16Support.isAvailable) else { return }
        var g = RandomGenerator(seed: 7)
        let (cin, cout) = (33, 48)
        let weight = Tensor(randomUniform: [cout, cin, 3, 3], lowerBound: -0.2, upperBound: 0.2, using: &g)
        let bias = Tensor(randomUniform: [cout], lowerBound: -1, upperBound: 1, using: &g)
        // (height, width, reflection padding, zero padding)
        for (h, w, reflect, zero) in [(8, 8, 1, 0), (7, 5, 1, 0), (6, 8, 0, 0), (8, 8, 0, 1), (5, 3, 0, 1), (2, 2, 1, 0)] {
            let layer = InferenceConvolution(weight: weight, bias: bias, padding: zero, precision: precision)
            #expect(layer.usesSmallImageWinograd(height: h, width: w, pad: reflect + zero), "\(h)×\(w) took another path")
            let (outH, outW) = (h + 2 * (reflect + zero) - 2, w + 2 * (reflect + zero) - 2)
            let x = Tensor(randomUniform: [2, cin, h, w], lowerBound: -1, upperBound: 1, using: &g)
            let skip = Tensor(randomUniform: [2, cout, outH, outW], lowerBound: -1, upperBound: 1, using: &g)
            func both(_ run: () -> Tensor) -> (Tensor, Tensor) {
                (InferenceConvolution.$smallImageWinogradOverride.withValue(true, operation: run),
                 InferenceConvolution.$smallImageWinogradOverride.withValue(false, operation: run))
            }
            let (plain, plainGeneral) = both { layer(x, reflectPadding: reflect) }
            #expect(plain.shape == [2, cout, outH, outW])
            #expect(plain.scalars == plainGeneral.scalars, "\(precision) \(h)×\(w) pad \(reflect)+\(zero), with bias")
            let cases: [(FusedActivation, Tensor?)] = [(.relu, nil), (.leakyRelu(0.2), nil), (.none, skip)]
            for (activation, residual) in cases {
                let (fused, general) = both {
                    layer.normalized(x, reflectPadding: reflect, activation: activation, adding: residual)
                }
                #expect(fused.scalars == general.scalars, "\(precision) \(h)×\(w) pad \(reflect)+\(zero), \(activation)")
            }
        }
    }
}
