import CyclexEngine
import CyclexInference
import Foundation

/// `--only translate-layers`: where the inference forward's time goes, layer by layer
/// (`InferenceLayerTimes`), for each preset's A→B generator at each `--size`, in float32 and (on
/// CPUs with AVX512_BF16) bf16. The two precisions alternate within each repetition. Each layer's
/// cell is the median over repetitions of its wall time / process CPU time (all threads; a layer
/// that repeats, the residual blocks, is summed per forward); shares are of the wall time. The last
/// rows are the whole forward's median wall time and process CPU time without profiling. Not part
/// of a full run.
func runTranslationLayersSection(sizes: [Int], iterations: Int, models: Set<String>?, log: JSONLog) {
    print("\n## Inference forward by layer, batch 1")
    let precisions: [InferencePrecision] = BFloat16Support.isAvailable ? [.f32, .bf16] : [.f32]
    for (kind, preset) in translationCases where models?.contains("\(kind.rawValue)-\(preset.rawValue)") ?? true {
        for size in sizes {
            let (generators, x) = freshTranslationCase(kind, preset, size: size)
            let forwards = precisions.compactMap { p in
                (try? InferenceGenerator(generators: generators, direction: .aToB, precision: p)).map { (p, $0) }
            }
            for (_, f) in forwards { _ = f(x); _ = f(x) }  // weights prepared, buffers pooled
            var layerTimes = [InferencePrecision: [[String: Double]]](), layerCPU = [InferencePrecision: [[String: Double]]]()
            var order: [String] = []
            var wall = [InferencePrecision: [Double]](), cpu = [InferencePrecision: [Double]]()
            for _ in 0..<iterations {
                for (p, f) in forwards {
                    let times = InferenceLayerTimes()
                    InferenceLayerTimes.$current.withValue(times) { _ = f(x) }
                    var perLayer = [String: Double](), perLayerCPU = [String: Double]()
                    for (layer, s, c) in times.entries {
                        if perLayer[layer] == nil && !order.contains(layer) { order.append(layer) }
                        perLayer[layer, default: 0] += s
                        perLayerCPU[layer, default: 0] += c
                    }
                    layerTimes[p, default: []].append(perLayer)
                    layerCPU[p, default: []].append(perLayerCPU)
                    let (w, c) = wallAndCPUSeconds { _ = f(x) }
                    wall[p, default: []].append(w)
                    cpu[p, default: []].append(c)
                }
            }
            let name = "\(kind.rawValue)-\(preset.rawValue)"
            var table = TextTable("\(name) at \(size)², median of \(iterations) (precisions alternate)",
                                  ["layer"] + precisions.map { "\($0.rawValue) ms wall / CPU" } + precisions.map { "\($0.rawValue) share" })
            func layerMedian(_ p: InferencePrecision, _ layer: String) -> Double {
                median(layerTimes[p, default: []].map { $0[layer] ?? 0 })
            }
            func layerCPUMedian(_ p: InferencePrecision, _ layer: String) -> Double {
                median(layerCPU[p, default: []].map { $0[layer] ?? 0 })
            }
            let totals = Dictionary(uniqueKeysWithValues: precisions.map { p in
                (p, order.reduce(0) { $0 + layerMedian(p, $1) })
            })
            for layer in order {
                table.add([layer] + precisions.map { fmt(layerMedian($0, layer) * 1e3, 2) + " / " + fmt(layerCPUMedian($0, layer) * 1e3, 2) }
                    + precisions.map { fmt(100 * layerMedian($0, layer) / totals[$0]!, 1) + " %" })
                for p in precisions {
                    log.add("translate_layers", ["model": kind.rawValue, "preset": preset.rawValue, "size": size,
                                                 "precision": p.rawValue, "layer": layer,
                                                 "median_s": layerMedian(p, layer), "cpu_median_s": layerCPUMedian(p, layer)])
                }
            }
            table.add(["forward (wall, no profiling)"] + precisions.map { fmt(median(wall[$0]!) * 1e3, 2) }
                + precisions.map { _ in "" })
            table.add(["forward (process CPU)"] + precisions.map { fmt(median(cpu[$0]!) * 1e3, 2) }
                + precisions.map { _ in "" })
            table.print()
        }
    }
}
