import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTraining
import Foundation

/// Accumulates wall time and process CPU time per named phase of a real training step (used by
/// `--profile`): the step announces each phase, the time until the next announcement is booked to it.
final class PhaseProfiler: StepPhaseRecorder {
    var order: [String] = []
    var totals: [String: Double] = [:]
    var cpuTotals: [String: Double] = [:]
    private var current: (name: String, start: UInt64, cpu: Double)?

    func begin(_ name: String) {
        let (now, cpu) = (nowNanoseconds(), processCPUSeconds())
        close(at: now, cpu: cpu)
        current = (name, now, cpu)
    }

    /// Ends the running phase at `time` (after the step returned).
    func close(at time: UInt64, cpu: Double = processCPUSeconds()) {
        if let current {
            book(current.name, Double(time - current.start) * 1e-9)
            cpuTotals[current.name, default: 0] += cpu - current.cpu
        }
        current = nil
    }

    func book(_ name: String, _ t: Double) {
        if totals[name] == nil { order.append(name) }
        totals[name, default: 0] += t
    }
}

/// One training step of `cyclex train`'s CycleGAN at the reference size (junyanz ResNet-9 ngf 64 +
/// PatchGAN ndf 64, `--preset standard`): the real `CycleGANModel.trainStep`, pools and checks
/// included, as PyTorch's reference run measured its own
/// (RESULTS §2, docs/benchmarks.md#2-cyclegan-training-iteration).
final class CycleGANIteration {
    let model: CycleGANModel
    let realA: Tensor, realB: Tensor

    /// `poolSize` nil keeps the preset's image pools (50 per domain).
    init(size: Int, seed: UInt64 = 1, poolSize: Int? = nil) {
        var configuration = ModelConfiguration.preset(.standard, kind: .cycleGAN, imageSize: size)
        if let poolSize { configuration.poolSize = poolSize }
        model = CycleGANModel(configuration: configuration, seed: seed)
        var rng = RandomGenerator(seed: seed &+ 1)
        realA = randomTensor([1, 3, size, size], &rng)
        realB = randomTensor([1, 3, size, size], &rng)
    }

    var parameterCount: Int { model.parameterCount }

    /// One step; `p` receives its phases.
    func run(_ p: PhaseProfiler? = nil) {
        model.phases = p
        defer { model.phases = nil }
        do { _ = try model.trainStep(realA: realA, realB: realB) } catch {
            fatalError("benchmark step failed: \(error.localizedDescription)")
        }
    }
}

let torchCycleGAN: [Int: (gflop: Double, median: Double, best: Double, calib: Double)] = [
    64: (116.7, 1.13, 1.06, 165), 128: (468.8, 3.85, 3.74, 171), 256: (1879.2, 13.51, 13.45, 184),
]
/// RESULTS §4 (docs/benchmarks.md#4-generator-inference), batch 1, 2 threads: (GFLOP, median s).
let torchInference: [String: (gflop: Double, median: Double, calib: Double)] = [
    "ResNet-9 128": (24.78, 0.1768, 181), "ResNet-9 256": (99.10, 0.7305, 179.5),
    "xAI (6 blocks) 128": (18.74, 0.1507, 185.5), "xAI (6 blocks) 256": (74.95, 0.5732, 180),
]
/// RESULTS §3 without explanations (docs/benchmarks.md#3-xai-gan-dense-iteration), 2 threads.
let torchDenseGAN = (gflop: 6.4, median: 0.0711, calib: 182.5)

/// The xAI-GAN fully connected MNIST iteration (RESULTS §3): D step then G step, batch 128.
final class DenseGANIteration {
    let g: DenseGenerator, d: DenseDiscriminator
    let optG: Adam, optD: Adam
    let real: Tensor
    var rng = RandomGenerator(seed: 9)
    let batch: Int

    init(batch: Int = 128) {
        self.batch = batch
        var r = RandomGenerator(seed: 2)
        g = DenseGenerator(noiseSize: 100, hidden: [256, 512, 1296], imageShape: [1, 32, 32], using: &r)
        d = DenseDiscriminator(imageShape: [1, 32, 32], using: &r)
        optG = Adam(parameters: g.parameters, learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
        optD = Adam(parameters: d.parameters, learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
        real = randomTensor([batch, 1, 32, 32], &r)
    }

    func run() {
        optD.zeroGradients()
        let fake = g(Tensor(randomNormal: [batch, 100], using: &rng)).detached()
        let lossD = d(real).bceLoss(target: 1) + d(fake).bceLoss(target: 0)
        lossD.backward(accumulatingInto: optD.parameters)
        optD.step()
        optG.zeroGradients()
        let lossG = d(g(Tensor(randomNormal: [batch, 100], using: &rng))).bceLoss(target: 1)
        lossG.backward(accumulatingInto: optG.parameters)
        optG.step()
    }
}

// MARK: - Section 3

func runModelsSection(sizes: [Int], iterations: Int, quick: Bool, reference: Double, log: JSONLog) {
    BLAS.setThreadCount(2)
    var t = TextTable(
        "3a. CycleGAN training iteration (ResNet-9 ngf 64 + PatchGAN ndf 64, batch 1, 2 threads)",
        ["model", "size", "iters", "median", "min", "GFLOP/iter", "GF/s med", "% sgemm", "torch median",
         "torch GF/s", "cyclex/torch time", "× sgemm-normalised", "load"])
    for size in sizes {
        BufferPool.shared.drain()
        let it = CycleGANIteration(size: size)
        it.run()  // warm-up: first-step allocations
        let times = (0..<iterations).map { _ in seconds { it.run() } }
        let timing = Timing(times: times)
        let ref = torchCycleGAN[size]
        let gflop = ref?.gflop ?? .nan
        let gf = gflop / timing.median
        t.add(["ResNet-9 + PatchGAN", "\(size)", "\(iterations)", fmtTime(timing.median), fmtTime(timing.minimum),
               fmt(gflop), fmt(gf), fmt(100 * gf / reference, 0),
               ref.map { fmtTime($0.median) } ?? "-", ref.map { fmt($0.gflop / $0.median) } ?? "-",
               ref.map { fmt(timing.median / $0.median, 2) + "×" } ?? "-",
               ref.map { fmt(timing.median / $0.median * reference / $0.calib, 2) + "×" } ?? "-", loadAverage()])
        log.add("cyclegan_train", ["size": size, "iterations": iterations, "median_s": timing.median,
                                   "min_s": timing.minimum, "times_s": times, "gflop_per_iter": gflop,
                                   "gflops": gf, "torch_median_s": ref?.median ?? Double.nan,
                                   "ratio_time_vs_torch": timing.median / (ref?.median ?? .nan),
                                   "ratio_time_vs_torch_normalised": timing.median / (ref?.median ?? .nan) * reference / (ref?.calib ?? .nan),
                                   "params": it.parameterCount])
    }
    t.notes.append("""
        "× sgemm-normalised" = cyclex/torch time × (in-run sgemm \(fmt(reference)) / torch's calibration in that RESULTS row): \
        corrects for a different or busier machine than the one RESULTS was measured on.
        """)
    t.notes.append("GFLOP/iter = RESULTS §2 (FlopCounterMode: conv/matmul fwd+bwd). \"cyclex/torch time\" < 1 means cyclex is faster.")
    t.print()

    var inf = TextTable("3b. Generator inference (forward only, withoutGradient, batch 1, 2 threads)",
                        ["generator", "size", "median", "min", "img/s", "GFLOP", "GF/s", "torch img/s", "cyclex/torch time",
                         "× sgemm-normalised"])
    var infCases: [(String, Int)] = [("ResNet-9", 128), ("xAI (6 blocks)", 128)]
    if !quick { infCases += [("ResNet-9", 256), ("xAI (6 blocks)", 256)] }
    if quick { infCases = [("ResNet-9", 128)] }
    for (name, size) in infCases {
        BufferPool.shared.drain()
        var rng = RandomGenerator(seed: 4)
        let x = randomTensor([1, 3, size, size], &rng)
        let body: () -> Void
        if name == "ResNet-9" {
            let g = ResnetGenerator(filters: 64, residualBlocks: 9, using: &rng)
            body = { _ = withoutGradient { g(x) } }
        } else {
            let g = XaiGenerator(filters: 64, residualBlocks: 6, upActivation: .relu, using: &rng)
            let mask = Tensor(randomNormal: [1, 3, size, size], mean: 1, standardDeviation: 0.02, using: &rng)
            body = { _ = withoutGradient { g(x, mask: mask) } }
        }
        let timing = measure(warmup: 1, minimumRepetitions: quick ? 3 : (size >= 256 ? 5 : 9), minimumSeconds: quick ? 0.5 : 2, body)
        let ref = torchInference["\(name) \(size)"]
        let gflop = ref?.gflop ?? .nan
        inf.add([name, "\(size)", fmtTime(timing.median), fmtTime(timing.minimum), fmt(1 / timing.median, 2),
                 fmt(gflop, 2), fmt(gflop / timing.median), ref.map { fmt(1 / $0.median, 2) } ?? "-",
                 ref.map { fmt(timing.median / $0.median, 2) + "×" } ?? "-",
                 ref.map { fmt(timing.median / $0.median * reference / $0.calib, 2) + "×" } ?? "-"])
        log.add("inference", ["generator": name, "size": size, "median_s": timing.median, "min_s": timing.minimum,
                              "images_per_s": 1 / timing.median, "torch_median_s": ref?.median ?? Double.nan])
    }
    inf.notes.append("xAI: cyclex's XaiGenerator (3-channel mask, 7×7 64→64 head + 3×3 final conv) is not the exact torch bench network; GFLOP column is torch's.")
    inf.print()

    var fc = TextTable("3c. xAI-GAN fully connected MNIST iteration (batch 128, D step + G step, 2 threads)",
                       ["model", "iters", "median", "min", "GFLOP/iter", "GF/s med", "torch median", "cyclex/torch time",
                        "× sgemm-normalised"])
    BufferPool.shared.drain()
    let dense = DenseGANIteration()
    let fcTiming = measure(warmup: 5, minimumRepetitions: quick ? 20 : 100, minimumSeconds: quick ? 0.5 : 3) { dense.run() }
    fc.add(["FC GAN 1024-1296-512-256", "\(fcTiming.times.count)", fmtTime(fcTiming.median), fmtTime(fcTiming.minimum),
            "6.4", fmt(6.4 / fcTiming.median), "71.1 ms", fmt(fcTiming.median / torchDenseGAN.median, 2) + "×",
            fmt(fcTiming.median / torchDenseGAN.median * reference / torchDenseGAN.calib, 2) + "×"])
    log.add("fcgan_train", ["median_s": fcTiming.median, "min_s": fcTiming.minimum, "torch_median_s": 0.0711])
    fc.print()
}

// MARK: - Section 4

/// Runs 4 iterations of a fresh CycleGAN and reports the tensor-buffer allocation counter, which
/// must not grow after the warm-up (the first two steps; the real step still adds two buffers in
/// its second iteration). The
/// image pools are off (size 0): while a pool fills it keeps every new fake, one buffer per pool
/// per step for its first 50 steps, which is storage, not a leak.
func runAllocationCheck(size: Int, log: JSONLog) -> Bool {
    BufferPool.shared.drain()
    let it = CycleGANIteration(size: size, seed: 21, poolSize: 0)
    var t = TextTable("4. Allocation check: CycleGAN \(size)², BufferPool.shared after each iteration",
                      ["after", "allocationCount", "new allocations", "buffers reused (this iter)"])
    var counts: [Int] = []
    var previousAllocations = BufferPool.shared.allocationCount, previousReuses = BufferPool.shared.reuseCount
    for i in 1...4 {
        it.run()
        let a = BufferPool.shared.allocationCount, r = BufferPool.shared.reuseCount
        counts.append(a)
        t.add(["iteration \(i)", "\(a)", "+\(a - previousAllocations)", "\(r - previousReuses)"])
        previousAllocations = a; previousReuses = r
    }
    let pass = counts[3] == counts[1] && counts[2] == counts[1]
    t.notes.append("Tensor-buffer allocations stop after the warm-up (iterations 1-2): \(pass ? "PASS" : "FAIL")")
    t.notes.append("(Counts tensor data buffers only; small Swift objects — Tensor headers, graph nodes, closures — still use malloc.)")
    t.notes.append("The real CycleGAN step with its image pools off: a filling pool keeps one new buffer per pool per step.")
    t.print()
    log.add("allocation", ["size": size, "counts": counts, "pass": pass])
    return pass
}
