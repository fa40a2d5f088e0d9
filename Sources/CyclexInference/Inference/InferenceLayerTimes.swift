import Foundation

/// Wall time of each layer of one inference forward, for the per-layer profile of
/// `cyclex-bench --only translate-layers` (docs/benchmarks.md). Off unless a forward runs inside
/// `InferenceLayerTimes.$current.withValue(times) { … }`; the plans then time every layer
/// (convolution with its norm, activation and skip sum) in the order they run.
public final class InferenceLayerTimes: @unchecked Sendable {
    /// (layer, seconds) in the order the layers ran; repeated names (residual blocks) stay separate.
    public private(set) var entries: [(layer: String, seconds: Double)] = []

    public init() {}

    @TaskLocal public static var current: InferenceLayerTimes?

    func add(_ layer: String, _ seconds: Double) { entries.append((layer, seconds)) }
}

/// Runs `body`, charging its wall time to `layer` when a profile is being recorded.
@inline(__always)
func timedLayer<T>(_ layer: @autoclosure () -> String, _ body: () -> T) -> T {
    guard let times = InferenceLayerTimes.current else { return body() }
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let result = body()
    clock_gettime(CLOCK_MONOTONIC, &end)
    times.add(layer(), Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9)
    return result
}
