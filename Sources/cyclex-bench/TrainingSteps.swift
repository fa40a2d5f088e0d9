import CyclexEngine
import CyclexInference
import CyclexTraining

// MARK: - Section 3d: the real training steps of `cyclex train`

/// Times `trainStep` of the models `cyclex train` builds (presets small and standard), and the
/// xAI-CycleGAN step with and without its explanation machinery, A/B interleaved so that machine
/// noise hits both sides alike. PyTorch's bench networks differ (see the notes), so these rows
/// are cyclex-only except for the explanation overhead, which RESULTS reports as a percentage
/// (docs/benchmarks.md#2-cyclegan-training-iteration).
///
/// Each step's process CPU time (all threads) is recorded beside its wall time: on a shared
/// machine the CPU time of a single-process step is what the load disturbs least.
func runTrainingStepsSection(sizes: [Int], iterations: Int, models: Set<String>?, log: JSONLog) {
    BLAS.setThreadCount(2)
    var t = TextTable(
        "3d. cyclex train steps (batch 1, 2 threads; xAI with/without explanations A/B interleaved)",
        ["model", "preset (ngf/blocks/ndf)", "size", "params", "step median", "step min", "without explanations",
         "explanation cost", "CPU: step / explanation cost"])
    for size in sizes {
        for (kind, preset) in [(ModelConfiguration.Kind.cycleGAN, ModelConfiguration.Preset.small), (.cycleGAN, .standard),
                               (.xaiCycleGAN, .small), (.xaiCycleGAN, .standard)]
        where models?.contains("\(kind.rawValue)-\(preset.rawValue)") ?? true {
            BufferPool.shared.drain()
            let configuration = ModelConfiguration.preset(preset, kind: kind, imageSize: size)
            let model = makeModel(configuration, seed: 1)
            var rng = RandomGenerator(seed: 2)
            let a = randomTensor([1, 3, size, size], &rng), b = randomTensor([1, 3, size, size], &rng)
            let step = { _ = try? model.trainStep(realA: a, realB: b) }
            step()  // warm-up
            var with: [Double] = [], without: [Double] = [], cpuWith: [Double] = [], cpuWithout: [Double] = []
            let xai = model as? XAICycleGANModel
            for _ in 0..<iterations {
                var (wall, cpu) = wallAndCPUSeconds(step)
                with.append(wall); cpuWith.append(cpu)
                if let xai {
                    xai.usesExplanations = false
                    (wall, cpu) = wallAndCPUSeconds(step)
                    without.append(wall); cpuWithout.append(cpu)
                    xai.usesExplanations = true
                }
            }
            let w = Timing(times: with)
            let shape = "\(configuration.generatorFilters)/\(configuration.residualBlocks)/\(configuration.discriminatorFilters)"
            var row = [kind.rawValue, "\(preset.rawValue) (\(shape))", "\(size)", fmt(Double(model.parameterCount) / 1e6, 2) + " M",
                       fmtTime(w.median), fmtTime(w.minimum)]
            var entry: [String: Any] = ["model": kind.rawValue, "preset": preset.rawValue, "size": size,
                                        "median_s": w.median, "min_s": w.minimum, "times_s": with,
                                        "cpu_median_s": Timing(times: cpuWith).median, "cpu_times_s": cpuWith]
            if !without.isEmpty {
                let wo = Timing(times: without)
                // Paired differences cancel slow machine windows better than a difference of medians.
                let paired = zip(with, without).map { $0 - $1 }.sorted()[with.count / 2]
                row += [fmtTime(wo.median), "+" + fmtTime(paired) + " (" + fmt(100 * paired / wo.median) + " %)"]
                entry["without_explanations_median_s"] = wo.median
                entry["explanation_cost_paired_median_s"] = paired
                let cpuWo = Timing(times: cpuWithout)
                let cpuPaired = zip(cpuWith, cpuWithout).map { $0 - $1 }.sorted()[with.count / 2]
                row.append(fmtTime(Timing(times: cpuWith).median) + " / +" + fmt(100 * cpuPaired / cpuWo.median) + " %")
                entry["cpu_without_explanations_median_s"] = cpuWo.median
                entry["cpu_explanation_cost_paired_median_s"] = cpuPaired
            } else {
                row += ["-", "-", fmtTime(Timing(times: cpuWith).median)]
            }
            t.add(row)
            log.add("train_step", entry)
        }
    }
    t.notes.append("""
        cyclegan standard = junyanz ResNet-9 ngf 64 + PatchGAN ndf 64, the network of table 3a and RESULTS §2 (there it \
        is timed without image pools and D freezing, here it is the real step). xai-cyclegan is cyclex's model \
        (docs/training.md#xai-cyclegan-step) with mask discriminators; RESULTS' xAI bench network is different \
        (ngf 64, 6 blocks, no mask discriminators), so only its saliency overhead is comparable: \
        PyTorch +4.0 % at 256, +3.7 % at 128 for 2 maps; cyclex computes 6 maps per step (2 input-mask + 4 gradient maps).
        """)
    t.print()
}
