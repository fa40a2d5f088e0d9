import CyclexEngine
import CyclexTraining
import Foundation

/// Prints, at the start of each phase of a training step, the process's resident memory and the
/// buffer pool's byte counts, with the peaks reached during the phase before
/// (`CYCLEX_BENCH_MEMORY_TRACE=1` with `--only steps`; with `CYCLEX_POOL_PEAK_SIZES=1` also the
/// sizes alive at the live peak of phases whose peak exceeds `CYCLEX_BENCH_MEMORY_TRACE_MB`).
final class MemoryTracer: StepPhaseRecorder {
    private var previous = "start"
    let label: String
    static let sizesAboveBytes = (ProcessInfo.processInfo.environment["CYCLEX_BENCH_MEMORY_TRACE_MB"].flatMap { Int($0) } ?? 0) << 20

    init(label: String) { self.label = label; BufferPool.shared.resetPeaks() }

    /// A `/proc/self/status` field in KiB (-1 when unreadable).
    static func status(_ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
        }
        return -1
    }

    func begin(_ name: String) {
        let s = BufferPool.shared.statistics
        let mb = { (b: Int) in String(format: "%5.0f", Double(b) / 1048576) }
        print("mem \(label) end of [\(previous)]: RSS \(Self.status("VmRSS") / 1024) HWM \(Self.status("VmHWM") / 1024) MiB;"
              + " pool live \(mb(s.liveBytes)) peak \(mb(s.peakLiveBytes)), free \(mb(s.freeBytes)) (\(s.regionHoles) holes),"
              + " system \(mb(s.systemBytes)) peak \(mb(s.peakSystemBytes))")
        if s.peakLiveBytes > Self.sizesAboveBytes {
            for (bytes, n) in BufferPool.shared.liveBuffersAtPeak.sorted(by: { $0.bytes * $0.buffers > $1.bytes * $1.buffers }).prefix(20) {
                print(String(format: "    %9d bytes x %3d = %7.1f MiB", bytes, n, Double(bytes * n) / 1048576))
            }
        }
        BufferPool.shared.resetPeaks()
        previous = name
    }
}

extension MemoryTracer {
    static let isOn = ProcessInfo.processInfo.environment["CYCLEX_BENCH_MEMORY_TRACE"] == "1"

    /// `step` itself, or with `CYCLEX_BENCH_MEMORY_TRACE=1` `step` with its phases traced (the
    /// recipes that report phases: CycleGAN and xAI-CycleGAN).
    static func tracing(_ model: any ModelRecipe, _ step: @escaping () -> Void) -> () -> Void {
        guard isOn else { return step }
        var number = 0
        func setPhases(_ r: (any StepPhaseRecorder)?) {
            if let m = model as? CycleGANModel { m.phases = r }
            if let m = model as? XAICycleGANModel { m.phases = r }
        }
        return {
            number += 1
            let tracer = MemoryTracer(label: "step \(number)")
            setPhases(tracer)
            step()
            tracer.begin("next step")
            setPhases(nil)
        }
    }
}
