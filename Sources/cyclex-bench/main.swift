// OpenBLAS reads this when it initialises (first BLAS call): with CYCLEX_THREAD_POOL=0 (its own
// threads) they then stop spinning right after each call instead of stealing the second core from
// our own kernels (docs/benchmarks.md#running). Must stay the first statement of the program.
setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)

import CyclexEngine
import Foundation

let usage = """
    cyclex-bench: per-op and per-model speed of cyclex, in the rows of PyTorch's reference run (docs/benchmarks.md).
    Build and run in release:
      swift build -c release --scratch-path .build-bench --product cyclex-bench
      .build-bench/release/cyclex-bench [options]
    Options:
      --quick           fewer repetitions, model sizes 64 only (< 1 minute)
      --iterations N    CycleGAN iterations timed per size after 1 warm-up (default 5; quick 2)
      --size S          CycleGAN size(s), repeatable or comma separated (default 64,128; 256 takes ~15 s/iter)
      --only LIST       sections to run, comma separated: calib,ops,models,steps,alloc,profile,translate,
                        translate-layers, translate-memory (not part of a full run: generator forward at
                        each --size; the inference forward layer by layer; peak RSS of translating one
                        image of the first --size, in a fresh process), walks (not part of a full run:
                        the xAI discriminator saliency walk and its stride-2 col2im at the largest --size,
                        per-tap ranges against per-element tests, CPU ms), handoff (not part of a full
                        run: the cache-line round trip between the 2 pool threads, ns; tells whether the
                        host has put the two virtual CPUs on cores sharing a last-level cache)
      --models LIST     training steps (section 3d) and translate cases of these only, comma separated, e.g.
                        xai-cyclegan-small,cyclegan-standard (default: all four)
      --profile         also print the per-op profile of one CycleGAN iteration (at the largest --size), and
                        with steps the xAI step's phases with and without explanations (CPU time)
      --json PATH       also write all results as JSON
      --help
    """

var quick = false, profile = false
var iterations: Int?
var sizes: [Int] = []
var jsonPath: String?
var only: Set<String>?
var stepModels: Set<String>?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let a = arguments.next() {
    switch a {
    case "--quick": quick = true
    case "--profile": profile = true
    case "--iterations": iterations = arguments.next().flatMap { Int($0) }
    case "--size": sizes += (arguments.next() ?? "").split(separator: ",").compactMap { Int($0) }
    case "--json": jsonPath = arguments.next()
    case "--models": stepModels = Set((arguments.next() ?? "").split(separator: ",").map(String.init))
    case "--only": only = Set((arguments.next() ?? "").split(separator: ",").map(String.init))
    case "--help", "-h": print(usage); exit(0)
    default: FileHandle.standardError.write("unknown option \(a)\n\n\(usage)\n".data(using: .utf8)!); exit(2)
    }
}
if sizes.isEmpty { sizes = quick ? [64] : [64, 128] }
let iterationCount = iterations ?? (quick ? 2 : 5)
let onlySections = only, profileRequested = profile
func wants(_ section: String) -> Bool {
    if let onlySections { return onlySections.contains(section) }
    if section.hasPrefix("translate") { return false }
    return section != "profile" || profileRequested
}

let log = JSONLog()
let started = nowNanoseconds()
BLAS.setThreadCount(2)
print("""
    cyclex-bench \(quick ? "(quick) " : "")— OpenBLAS core \(BLAS.coreName), \(Parallel.coreCount) cores, \
    OPENBLAS_THREAD_TIMEOUT=\(String(cString: getenv("OPENBLAS_THREAD_TIMEOUT"))), load average \(loadAverage())
    Times are wall clock, medians (min) of repetitions; GFLOP/s = conv/matmul FLOPs (2 per multiply-add) / median.
    """)
log.meta = ["quick": quick, "sizes": sizes, "iterations": iterationCount, "openblas_core": BLAS.coreName,
            "load_average_start": loadAverage()]

// Calibration runs unless --only names neither it nor a section that quotes "% sgemm".
let calibrate = wants("calib") || wants("ops") || wants("models")
let before = calibrate ? runCalibration(quick: quick) : CalibrationResult()
if calibrate { printCalibration(before, after: nil, log: log) }
let reference = before.reference

var target: TargetResult?
if wants("ops") { target = runOpsSection(quick: quick, reference: reference, log: log) }
if wants("models") {
    runModelsSection(sizes: sizes, iterations: iterationCount, quick: quick, reference: reference, log: log)
}
if wants("steps") { runTrainingStepsSection(sizes: sizes, iterations: iterationCount, models: stepModels, phases: profileRequested, log: log) }
var allocationPass: Bool?
if wants("alloc") { allocationPass = runAllocationCheck(size: sizes.min() ?? 64, log: log) }
if wants("translate") { runTranslationSection(sizes: sizes, iterations: iterationCount, models: stepModels, log: log) }
if wants("translate-layers") {
    runTranslationLayersSection(sizes: sizes, iterations: iterationCount, models: stepModels, log: log)
}
if only?.contains("walks") == true { runSaliencyWalkSection(size: sizes.max() ?? 128, iterations: iterationCount, log: log) }
if only?.contains("handoff") == true { runHandoffProbe(log: log) }
if wants("translate-memory") { runTranslationMemory(size: sizes.first ?? 1024, log: log) }
if wants("profile") { runProfile(size: sizes.max() ?? 64, iterations: max(2, min(iterationCount, 3)), log: log) }

if calibrate {
    let after = runCalibration(quick: quick)
    printCalibration(before, after: after, log: log)
}

var summary: [String] = []
if let target {
    summary.append("conv target \(fmt(100 * target.ratio)) % of sgemm: \(target.ratio >= 0.6 ? "PASS" : "FAIL")")
}
if let allocationPass { summary.append("allocations after step 1: \(allocationPass ? "PASS" : "FAIL")") }
print("\nSummary: \(summary.joined(separator: "; ")). Total \(fmt(Double(nowNanoseconds() - started) * 1e-9)) s, "
      + "peak RSS \(fmt(peakRSSMiB(), 0)) MiB, load average \(loadAverage()).")
log.meta["peak_rss_mib"] = peakRSSMiB()
log.meta["load_average_end"] = loadAverage()
if let jsonPath { log.write(to: jsonPath); print("JSON written to \(jsonPath)") }
