/// Whether operations record the graph for reverse-mode differentiation.
///
/// The engine is driven from one thread (all parallelism lives inside kernels), so this is a
/// plain process-wide flag rather than task-local state.
public enum GradientMode {
    nonisolated(unsafe) static var isEnabled = true

    /// `true` while operations record their backward functions.
    public static var isRecording: Bool { isEnabled }
}

/// Runs `body` without recording any graph: results have no gradient history (PyTorch's `no_grad`).
@discardableResult
public func withoutGradient<Result>(_ body: () throws -> Result) rethrows -> Result {
    let previous = GradientMode.isEnabled
    GradientMode.isEnabled = false
    defer { GradientMode.isEnabled = previous }
    return try body()
}
