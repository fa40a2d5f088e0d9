import CyclexEngine
import CyclexInference
import CyclexTraining
import Foundation

// MARK: - Section 3d: the real training steps of `cyclex train`

/// Times `trainStep` of the models `cyclex train` builds (presets small and standard), and the
/// xAI-CycleGAN step with and without its explanation machinery, A/B interleaved so that machine
/// noise hits both sides alike. PyTorch's bench networks differ (see the notes), so these rows
/// are cyclex-only except for the explanation overhead, which RESULTS reports as a percentage
/// (docs/benchmarks.md#2-cyclegan-training-iteration).
///
/// Each step's process CPU time (all threads) is recorded beside its wall time: on a shared
/// machine the CPU time of a single-process step is what the load disturbs least.
///
/// With `phases`, each xAI-CycleGAN row is followed by the phases of its step with and without
/// explanations (CPU time per step, medians of the interleaved iterations are not needed here:
/// the sums over `iterations` extra steps of each kind).
func runTrainingStepsSection(sizes: [Int], iterations: Int, models: Set<String>?, phases: Bool = false, log: JSONLog) {
    // `CYCLEX_BENCH_STEP_THREADS=1` (with `taskset -c N` so the engine's own parallel loops share
    // one core) gives one-thread CPU-time readings for A/B work on a loaded machine.
    let threads = ProcessInfo.processInfo.environment["CYCLEX_BENCH_STEP_THREADS"].flatMap { Int($0) } ?? 2
    // `CYCLEX_BENCH_HANDOFF_PROBE=1`: the pool threads' cache-line round trip before every timed
    // step, into the JSON (`handoff_round_trip_ns`), to tell the host's placement of the two
    // virtual CPUs apart from the code's own speed (docs/benchmarks.md#section-3d-the-real-training-steps).
    let probesHandoff = ProcessInfo.processInfo.environment["CYCLEX_BENCH_HANDOFF_PROBE"] == "1"
    BLAS.setThreadCount(threads)
    var t = TextTable(
        "3d. cyclex train steps (batch 1, \(threads) BLAS thread\(threads == 1 ? "" : "s"); xAI with/without explanations A/B interleaved)",
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
            let step = MemoryTracer.tracing(model) { _ = try? model.trainStep(realA: a, realB: b) }
            step()  // warm-up
            var with: [Double] = [], without: [Double] = [], cpuWith: [Double] = [], cpuWithout: [Double] = []
            var handoff: [Double] = []
            let xai = model as? XAICycleGANModel
            for _ in 0..<iterations {
                if probesHandoff, let ns = poolRoundTripNanoseconds() { handoff.append(ns) }
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
            if !handoff.isEmpty { entry["handoff_round_trip_ns"] = handoff }
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
            if phases, let xai { printPhases(of: xai, step: step, size: size, preset: preset, iterations: iterations, log: log) }
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

/// CPU time per phase of the xAI step with and without explanations, the two kinds of step
/// interleaved (`--profile` with `--only steps`): what the explanation machinery costs, phase by phase.
private func printPhases(of model: XAICycleGANModel, step: () -> Void, size: Int, preset: ModelConfiguration.Preset,
                         iterations: Int, log: JSONLog) {
    let with = PhaseProfiler(), without = PhaseProfiler()
    for _ in 0..<iterations {
        for (uses, p) in [(true, with), (false, without)] {
            model.usesExplanations = uses
            model.phases = p
            step()
            p.close(at: nowNanoseconds())
        }
    }
    model.phases = nil
    model.usesExplanations = true
    var t = TextTable("3d. phases of the xai-cyclegan \(preset.rawValue) step at \(size) (CPU ms per step, \(iterations) steps each)",
                      ["phase", "with explanations", "without", "difference"])
    let n = Double(iterations)
    var sums = (0.0, 0.0)
    for name in with.order + without.order.filter({ with.cpuTotals[$0] == nil }) {
        let (a, b) = ((with.cpuTotals[name] ?? 0) / n, (without.cpuTotals[name] ?? 0) / n)
        sums.0 += a; sums.1 += b
        t.add([name, fmt(a * 1e3), fmt(b * 1e3), fmt((a - b) * 1e3)])
        log.add("train_step_phase", ["preset": preset.rawValue, "size": size, "phase": name,
                                     "cpu_with_s": a, "cpu_without_s": b])
    }
    t.add(["total", fmt(sums.0 * 1e3), fmt(sums.1 * 1e3), fmt((sums.0 - sums.1) * 1e3) + " (" + fmt(100 * (sums.0 - sums.1) / sums.1) + " %)"])
    t.print()
}
