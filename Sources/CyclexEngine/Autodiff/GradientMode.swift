/// Whether operations record the graph for reverse-mode differentiation.
///
/// Task-local (thread-local outside tasks), so independent computations on different threads,
/// such as tests running in parallel, cannot switch recording off for each other.
public enum GradientMode {
    @TaskLocal static var isEnabled = true

    /// `true` while operations record their backward functions.
    public static var isRecording: Bool { isEnabled }
}

/// Runs `body` without recording any graph: results have no gradient history (PyTorch's `no_grad`).
@discardableResult
public func withoutGradient<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradientMode.$isEnabled.withValue(false, operation: body)
}

/// Runs `body` with recording on, even inside `withoutGradient` (e.g. a saliency map computed
/// during a gradient-free generation pass).
@discardableResult
public func withGradient<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradientMode.$isEnabled.withValue(true, operation: body)
}
