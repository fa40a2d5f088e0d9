import CyclexEngine
import CyclexModels
import Foundation

/// Section "walks": the pieces of the xAI step's discriminator saliency walks, in process CPU
/// ms per call (A/B on a loaded machine): the stride-2 unfolds and folds (`Kernels.im2col`,
/// `col2im`) of the PatchGAN's first three convolutions, with per-tap ranges and with per-element tests
/// (`CYCLEX_TAP_RANGES`), and one whole saliency map (forward with graph + input-gradient
/// walk) of an ndf-32 PatchGAN, the xAI presets' discriminator. The variants alternate, so both
/// see the same load. Threads: `CYCLEX_BENCH_STEP_THREADS` (default 2).
func runSaliencyWalkSection(size: Int, iterations: Int, log: JSONLog) {
    let threads = ProcessInfo.processInfo.environment["CYCLEX_BENCH_STEP_THREADS"].flatMap { Int($0) } ?? 2
    BLAS.setThreadCount(threads)
    let ndf = 32, rounds = max(3, iterations)
    var t = TextTable("walks. PatchGAN (ndf \(ndf)) saliency pieces at \(size) (CPU ms per call, \(threads) thread(s), "
                      + "median of \(rounds) alternating rounds)", ["piece", "tap ranges", "per-element tests", "ratio"])
    let sizes = [size, size / 2, size / 4], channels = [3, ndf, 2 * ndf]
    var rng = RandomGenerator(seed: 7)
    for k in 0..<3 {
        let s = sizes[k], out = (s + 2 - 4) / 2 + 1
        let g = ConvGeometry(channels: channels[k], height: s, width: s, kernelHeight: 4, kernelWidth: 4, stride: 2,
                             padding: 1, outputHeight: out, outputWidth: out)
        let cols = Tensor(randomNormal: [g.patchSize * g.outputPixels], standardDeviation: 1, using: &rng)
        let image = Tensor(zeros: [channels[k], s, s])
        let input = Tensor(randomNormal: [channels[k], s, s], standardDeviation: 1, using: &rng)
        let repeats = max(1, 20_000_000 / (g.patchSize * g.outputPixels))
        func fold(_ tapRanges: Bool) -> Double {
            Kernels.$tapRangesOverride.withValue(tapRanges) {
                wallAndCPUSeconds {
                    for _ in 0..<repeats {
                        image.pointer.update(repeating: 0, count: image.count)
                        Kernels.col2im(cols.pointer, g, image.pointer)
                    }
                }.cpu / Double(repeats)
            }
        }
        func unfold(_ tapRanges: Bool) -> Double {
            Kernels.$tapRangesOverride.withValue(tapRanges) {
                wallAndCPUSeconds { for _ in 0..<repeats { Kernels.im2col(input.pointer, g, cols.pointer) } }.cpu / Double(repeats)
            }
        }
        for (name, run) in [("col2im", fold), ("im2col", unfold)] {
            let (fast, slow) = alternate(rounds) { run(true) } _: { run(false) }
            t.add(["\(name) D conv\(k + 1) \(channels[k])×\(s)² (k4 s2 p1)", fmtMs(fast), fmtMs(slow), fmt(slow / fast, 2)])
            log.add("walks", ["piece": "\(name) conv\(k + 1)", "size": size, "threads": threads, "tap_ranges_s": fast,
                              "per_element_s": slow])
        }
    }
    // The five convolutions one by one (training op, as the walk runs them): forward with graph,
    // then the input gradient alone.
    var layers = TextTable("walks. PatchGAN (ndf \(ndf)) convolutions at \(size) (CPU ms per call, \(threads) thread(s), median of \(rounds))",
                           ["conv", "forward", "input gradient", "GFLOP/s fwd", "GFLOP/s dX"])
    let widths = [3, ndf, 2 * ndf, 4 * ndf, 8 * ndf, 1]
    var side = size
    for k in 0..<5 {
        let stride = k < 3 ? 2 : 1
        let x = Tensor(randomNormal: [1, widths[k], side, side], standardDeviation: 1, using: &rng)
        x.requiresGradient = true
        let w = Tensor(randomNormal: [widths[k + 1], widths[k], 4, 4], standardDeviation: 0.05, using: &rng)
        let out = (side + 2 - 4) / stride + 1
        let seed = Tensor(randomNormal: [1, widths[k + 1], out, out], standardDeviation: 1, using: &rng)
        var (tf, tb) = ([Double](), [Double]())
        for _ in 0..<rounds {
            var y: Tensor?
            tf.append(wallAndCPUSeconds { y = withGradient { x.conv2d(weight: w, stride: stride, padding: 1) } }.cpu)
            tb.append(wallAndCPUSeconds { _ = Tensor.gradients(of: y!, withRespectTo: [x], seed: seed) }.cpu)
        }
        let flops = 2.0 * Double(widths[k + 1] * widths[k] * 16 * out * out)
        layers.add(["conv\(k + 1) \(widths[k])→\(widths[k + 1]) \(side)² s\(stride)", fmtMs(median(tf)), fmtMs(median(tb)),
                    fmt(flops / median(tf) / 1e9), fmt(flops / median(tb) / 1e9)])
        log.add("walks", ["piece": "conv\(k + 1)", "size": size, "threads": threads, "forward_s": median(tf),
                          "input_gradient_s": median(tb)])
        side = out
    }
    layers.print()
    let d = PatchDiscriminator(filters: ndf, using: &rng)
    let x = Tensor(randomNormal: [1, 3, size, size], standardDeviation: 0.5, using: &rng)
    func walk(_ tapRanges: Bool) -> Double {
        Kernels.$tapRangesOverride.withValue(tapRanges) {
            wallAndCPUSeconds { for _ in 0..<4 { _ = Explanation.patchSaliency(of: d, at: x) } }.cpu / 4
        }
    }
    _ = walk(true)
    let (fast, slow) = alternate(rounds) { walk(true) } _: { walk(false) }
    t.add(["saliency map (forward with graph + input gradient)", fmtMs(fast), fmtMs(slow), fmt(slow / fast, 2)])
    log.add("walks", ["piece": "saliency map", "size": size, "threads": threads, "tap_ranges_s": fast, "per_element_s": slow])
    t.print()
}

/// Medians of `rounds` alternating calls of a and b (a, b, a, b, …).
private func alternate(_ rounds: Int, _ a: () -> Double, _ b: () -> Double) -> (Double, Double) {
    var (ta, tb) = ([Double](), [Double]())
    for _ in 0..<rounds { ta.append(a()); tb.append(b()) }
    return (median(ta), median(tb))
}

private func fmtMs(_ s: Double) -> String { fmt(s * 1e3, 3) }
