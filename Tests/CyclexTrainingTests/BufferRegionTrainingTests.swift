import CyclexEngine
import CyclexInference
import CyclexNN
import CyclexTraining
import Testing

/// Carving large buffers from the pool's region (`BufferPool.usesRegion`, `CYCLEX_POOL_REGION`)
/// changes where tensors live, never what is computed: two whole training steps of CycleGAN and
/// xAI-CycleGAN (small presets at sizes whose activations are region-sized, ≥ 256 KB) give the
/// same bits with the region and with exact-size free lists only: every tensor and number of both
/// steps' reports, every gradient and every updated parameter. The second step runs on memory the
/// first one freed, so a kernel that read a buffer before writing it would show here.
struct BufferRegionTrainingTests {
    @Test(arguments: [(ModelConfiguration.Kind.cycleGAN, 64), (.xaiCycleGAN, 128)])
    func regionGivesTheSameStepsBitForBit(kind: ModelConfiguration.Kind, size: Int) throws {
        var rng = RandomGenerator(seed: 3)
        let shape = [1, 3, size, size]
        let images = (0..<4).map { _ in Tensor(randomUniform: shape, lowerBound: -1, upperBound: 1, using: &rng) }
        let masks = (0..<4).map { _ in Tensor(randomUniform: shape, lowerBound: 0.5, upperBound: 1.5, using: &rng) }
        func twoSteps(region: Bool) throws -> (reports: [StepReport], parameters: [[Float]], regionBlocks: Int) {
            let pool = BufferPool.shared
            let before = pool.statistics.regionBlocks
            let saved = pool.usesRegion
            pool.usesRegion = region
            defer { pool.usesRegion = saved }
            let configuration = ModelConfiguration.preset(.small, kind: kind, imageSize: size)
            var reports: [StepReport] = []
            var parameters: [[Float]] = []
            func values(_ networks: [(prefix: String, module: any Module)]) -> [[Float]] {
                var all: [[Float]] = []
                for (_, module) in networks {
                    for (_, p) in module.namedParameters { all += [p.scalars, p.gradient?.scalars ?? []] }
                }
                return all
            }
            if kind == .xaiCycleGAN {
                let model = XAICycleGANModel(configuration: configuration, seed: 1)
                for s in 0..<2 {
                    reports.append(try model.trainStep(realA: images[2 * s], realB: images[2 * s + 1],
                                                       maskA: masks[2 * s], maskB: masks[2 * s + 1]))
                }
                parameters = values(model.networks)
            } else {
                let model = CycleGANModel(configuration: configuration, seed: 1)
                for s in 0..<2 { reports.append(try model.trainStep(realA: images[2 * s], realB: images[2 * s + 1])) }
                parameters = values(model.networks)
            }
            return (reports, parameters, pool.statistics.regionBlocks - before)
        }
        let lists = try twoSteps(region: false)
        let region = try twoSteps(region: true)
        // Both steps' activations and gradients came from the region (hundreds of blocks each).
        #expect(region.regionBlocks > 200, "region gave out \(region.regionBlocks) blocks")
        func same(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
        for (a, b) in zip(lists.reports, region.reports) {
            #expect(a.tensors.count >= 6 && Set(a.tensors.keys) == Set(b.tensors.keys))
            for (name, t) in a.tensors { #expect(same(t.scalars, b.tensors[name]?.scalars ?? []), "\(name)") }
            #expect(!a.losses.isEmpty && a.losses.count == b.losses.count)
            for ((name, x), (_, y)) in zip(a.losses + a.diagnostics, b.losses + b.diagnostics) {
                #expect(x.bitPattern == y.bitPattern, "\(name): \(x) vs \(y)")
            }
        }
        #expect(lists.parameters.count == region.parameters.count && lists.parameters.allSatisfy { !$0.isEmpty })
        for (i, values) in lists.parameters.enumerated() { #expect(same(values, region.parameters[i]), "parameter or gradient \(i)") }
    }
}
