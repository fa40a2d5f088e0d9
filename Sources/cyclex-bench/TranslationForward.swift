import CyclexEngine
import CyclexInference
import Foundation

/// The four generators `cyclex train` builds, in the order of docs/bench/translate_reference.py.
let translationCases: [(kind: ModelConfiguration.Kind, preset: ModelConfiguration.Preset)] = [
    (.cycleGAN, .small), (.cycleGAN, .standard), (.xaiCycleGAN, .small), (.xaiCycleGAN, .standard),
]

/// A translation case's inputs: the preset's generator pair with fresh weights (seed 1) and a
/// random batch-1 image of `size` pixels, the same for every section that uses `translationCases`.
func freshTranslationCase(_ kind: ModelConfiguration.Kind, _ preset: ModelConfiguration.Preset, size: Int)
    -> (generators: GeneratorPair, x: Tensor)
{
    let configuration = ModelConfiguration.preset(preset, kind: kind, imageSize: size)
    var rng = RandomGenerator(seed: 1)
    let generators = makeGeneratorPair(configuration, using: &rng)
    return (generators, randomTensor([1, configuration.channels, size, size], &rng))
}

/// `--only translate`: the generator forward `cyclex translate` runs per image (batch 1, square
/// images of each `--size`), for each preset's A→B generator with fresh weights: the inference
/// forward in float32 and, where the CPU has AVX512_BF16, in bf16, and the training-mode forward
/// (`GeneratorPair.translate`, the autodiff ops without recording) for comparison. The inference
/// variants of one case alternate within each repetition, so they see the same machine state. `--models`
/// limits the cases.
func runTranslationSection(sizes: [Int], iterations: Int, models: Set<String>?, log: JSONLog) {
    print("\n## Generator forward (cyclex translate), batch 1")
    let bf16 = BFloat16Support.isAvailable
    if !bf16 { print("bf16: \(BFloat16Support.unavailableMessage)") }
    var table = TextTable("Generator forward, median of \(iterations) (inference variants alternate); wall time / process CPU time", [
        "generator", "size", "training-mode f32", "inference f32", "inference bf16", "bf16 max |Δ| (grey levels)"])
    for (kind, preset) in translationCases where models?.contains("\(kind.rawValue)-\(preset.rawValue)") ?? true {
        for size in sizes {
            let (generators, x) = freshTranslationCase(kind, preset, size: size)
            var variants: [(name: String, run: () -> Tensor)] = [("training", { generators.translate(x, direction: .aToB) })]
            if let f32 = try? InferenceGenerator(generators: generators, direction: .aToB, precision: .f32) {
                variants.append(("f32", { f32(x) }))
            }
            if bf16, let low = try? InferenceGenerator(generators: generators, direction: .aToB, precision: .bf16) {
                variants.append(("bf16", { low(x) }))
            }
            var times = [String: [Double]](), cpu = [String: [Double]]()
            var outputs = [String: Tensor]()
            for v in variants { outputs[v.name] = v.run(); _ = v.run() }  // warm-up: weights prepared, buffers pooled
            // The inference variants alternate; the training-mode forward runs after them, so that
            // OpenBLAS's worker threads (which it wakes and which spin briefly) cannot slow them.
            for group in [variants.filter { $0.name != "training" }, variants.filter { $0.name == "training" }] {
                for _ in 0..<iterations {
                    for v in group {
                        let c0 = processCPUSeconds()
                        times[v.name, default: []].append(seconds { _ = v.run() })
                        cpu[v.name, default: []].append(processCPUSeconds() - c0)
                    }
                }
            }
            let grey = outputs["bf16"].map { greyLevelDifference($0, outputs["f32"]!) }
            let name = "\(kind.rawValue)-\(preset.rawValue)"
            func cell(_ v: String) -> String {
                times[v] == nil ? "-" : "\(fmtTime(median(times[v]!))) / \(fmtTime(median(cpu[v]!)))"
            }
            table.add([name, "\(size)", cell("training"), cell("f32"), cell("bf16"), grey.map { "\($0)" } ?? "-"])
            for v in variants {
                log.add("translate_forward", [
                    "model": kind.rawValue, "preset": preset.rawValue, "size": size, "variant": v.name,
                    "median_s": median(times[v.name]!), "times_s": times[v.name]!,
                    "cpu_median_s": median(cpu[v.name]!), "cpu_s": cpu[v.name]!,
                ])
            }
        }
    }
    table.print()
}

/// Largest difference of two [1, C, H, W] outputs in 8-bit grey levels (`tensor2im`: (x + 1) / 2 · 255, truncated).
func greyLevelDifference(_ a: Tensor, _ b: Tensor) -> Int {
    var worst = 0
    for i in 0..<a.count {
        let ga = Int(((a.pointer[i] + 1) / 2 * 255).rounded(.towardZero))
        let gb = Int(((b.pointer[i] + 1) / 2 * 255).rounded(.towardZero))
        worst = max(worst, abs(ga - gb))
    }
    return worst
}

/// `--only translate-memory`: peak resident memory of translating one `size`² image (the first
/// `--size`) with the standard CycleGAN generator, through `Translator` with its default tiling
/// (512-px tiles, 32-px overlap), in float32. Run it in a fresh process (the figure is the
/// process's high-water mark).
func runTranslationMemory(size: Int, log: JSONLog) {
    let configuration = ModelConfiguration.preset(.standard, kind: .cycleGAN, imageSize: 256)
    var rng = RandomGenerator(seed: 1)
    let generators = makeGeneratorPair(configuration, using: &rng)
    let x = randomTensor([1, 3, size, size], &rng)
    let before = peakRSSMiB()
    let translator = Translator(generators: generators, direction: .aToB)
    let t = seconds { _ = translator.translate(x) }
    let peak = peakRSSMiB()
    print("memory cyclex cyclegan standard \(size): peak RSS \(fmt(peak, 0)) MiB (before the translation \(fmt(before, 0)) MiB), "
        + "tile \(translator.tileSize), \(fmtTime(t))")
    log.add("translate_memory", ["model": "cyclegan", "preset": "standard", "size": size, "peak_rss_mib": peak,
                                 "before_mib": before, "tile": translator.tileSize, "seconds": t])
}

