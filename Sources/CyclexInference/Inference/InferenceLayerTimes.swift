import Foundation

/// Wall time and process CPU time (all threads) of each layer of one inference forward, for the per-layer profile of
/// `cyclex-bench --only translate-layers` (docs/benchmarks.md). Off unless a forward runs inside
/// `InferenceLayerTimes.$current.withValue(times) { … }`; the plans then time every layer
/// (convolution with its norm, activation and skip sum) in the order they run.
public final class InferenceLayerTimes: @unchecked Sendable {
    /// (layer, wall seconds, CPU seconds) in the order the layers ran; repeated names (residual
    /// blocks) stay separate. Under load the CPU time is the steadier of the two.
    public private(set) var entries: [(layer: String, seconds: Double, cpuSeconds: Double)] = []

    public init() {}

    @TaskLocal public static var current: InferenceLayerTimes?

    func add(_ layer: String, _ seconds: Double, _ cpuSeconds: Double) { entries.append((layer, seconds, cpuSeconds)) }
}

/// Runs `body`, charging its wall time to `layer` when a profile is being recorded.
@inline(__always)
func timedLayer<T>(_ layer: @autoclosure () -> String, _ body: () -> T) -> T {
    guard let times = InferenceLayerTimes.current else { return body() }
    var start = timespec(), end = timespec(), cpuStart = timespec(), cpuEnd = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuStart)
    let result = body()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuEnd)
    clock_gettime(CLOCK_MONOTONIC, &end)
    func seconds(_ a: timespec, _ b: timespec) -> Double { Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) * 1e-9 }
    times.add(layer(), seconds(start, end), seconds(cpuStart, cpuEnd))
    return result
}
