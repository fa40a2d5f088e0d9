import CBFloat16Kernels
import CyclexEngine
@testable import CyclexInference
import Testing

/// `cx_f32_winograd_pack_a` (the inference forward's one-pass Winograd weight preparation, which the
/// xAI step's first pass pays every step) against the two-pass path it replaces: the engine's
/// transform U = G g Gᵀ into [16][Cout][Cin], then `cx_f32_pack_a` of each U_ξ. Equal bit for bit,
/// also with a Cout that is not a multiple of the 8-row blocks (zero rows) and for split block ranges.
struct WinogradPackingTests {
    @Test(arguments: [(8, 32), (36, 40), (256, 128)])
    func fusedPackingEqualsTransformThenPack(shape: (cout: Int, cin: Int)) {
        let (cout, cin) = shape
        var rng = RandomGenerator(seed: UInt64(cout * 1000 + cin))
        let w = Tensor(randomNormal: [cout, cin, 3, 3], mean: 0, standardDeviation: 0.3, using: &rng)
        let count = cx_f32_packed_a_count(Int32(cout), Int32(cin))
        var u = [Float](repeating: 0, count: 16 * cout * cin)
        u.withUnsafeMutableBufferPointer {
            WinogradConvolution.transformWeights(w.pointer, outputChannels: cout, inputChannels: cin,
                                                 transposedAndFlipped: false, into: $0.baseAddress!)
        }
        var expected = [Float](repeating: .nan, count: 16 * count)
        u.withUnsafeBufferPointer { ub in
            expected.withUnsafeMutableBufferPointer { eb in
                for xi in 0..<16 {
                    cx_f32_pack_a(ub.baseAddress! + xi * cout * cin, Int32(cout), Int32(cin), Int32(cin), eb.baseAddress! + xi * count)
                }
            }
        }
        let blocks = (cout + 7) / 8
        var fused = [Float](repeating: .nan, count: 16 * count)
        fused.withUnsafeMutableBufferPointer { fb in
            // Two block ranges, as the parallel split hands them out.
            let middle = blocks / 2
            cx_f32_winograd_pack_a(w.pointer, Int32(cout), Int32(cin), 0, Int32(middle), fb.baseAddress!)
            cx_f32_winograd_pack_a(w.pointer, Int32(cout), Int32(cin), Int32(middle), Int32(blocks), fb.baseAddress!)
        }
        #expect(fused.map(\.bitPattern) == expected.map(\.bitPattern))
        // The zero rows past Cout really are zero, and the values are not all zero.
        #expect(expected.contains { $0 != 0 })
    }
}
