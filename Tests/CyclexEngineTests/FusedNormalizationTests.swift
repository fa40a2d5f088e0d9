import CyclexEngine
import Testing

/// Instance norm + (leaky) ReLU as one op against the two ops it replaces: the same forward values
/// and input gradients bit for bit, and the gradient by central differences
/// (inputs kept away from the kink of the activation after normalisation).
@Suite struct FusedNormalizationTests {
    @Test(arguments: [(Float(0), [2, 3, 5, 7]), (Float(0.2), [1, 4, 9, 9]), (Float(0.2), [1, 2, 33, 17])])
    func matchesInstanceNormThenRectifier(slope: Float, shape: [Int]) {
        var r = Inputs(seed: UInt64(61_000 + shape.reduce(0, +)))
        let x = r.normal(shape), seed = r.normal(shape)
        func run(_ f: (Tensor) -> Tensor) -> (y: [Float], g: [Float]) {
            let xs = Tensor(shape: x.shape, scalars: x.scalars, requiresGradient: true)
            let y = f(xs)
            return (y.scalars, Tensor.gradients(of: y, withRespectTo: [xs], seed: seed)[0].scalars)
        }
        let fused = run { $0.instanceNormalizedRectified(slope: slope) }
        let separate = run { slope == 0 ? $0.instanceNormalized().relu() : $0.instanceNormalized().leakyRelu(slope: slope) }
        #expect(fused.y == separate.y, "forward values bit for bit")
        #expect(fused.g == separate.g, "gradients bit for bit")
    }

    @Test func gradientByFiniteDifferences() {
        var r = Inputs(seed: 62_000)
        // Planes whose normalised values stay clear of 0: a spread-out ramp plus noise.
        let ramp = (0..<2 * 3 * 16).map { Float($0 % 16) - 7.5 }
        let noise = r.normal([2, 3, 4, 4], std: 0.05).scalars
        let x = Tensor(shape: [2, 3, 4, 4], scalars: zip(ramp, noise).map { $0 + $1 })
        let w = r.normal([2, 3, 4, 4])
        for slope: Float in [0, 0.2] {
            checkGradients("instance norm + leaky ReLU(\(slope))", inputs: [x, w], differentiate: [0]) { t in
                (t[0].instanceNormalizedRectified(slope: slope) * t[1]).sum()
            }
        }
    }
}
