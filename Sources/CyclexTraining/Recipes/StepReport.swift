import CyclexEngine
import Foundation

/// What one training step measured: its losses and diagnostics by name, plus named tensors
/// (fakes, reconstructions, maps) kept for tests. The trainer reads only the names a recipe
/// declares (`StepDeclaration`), never this report's own order.
public struct StepReport {
    public var losses: [(name: String, value: Float)] = []
    /// Extra scalars (xAI: λ values and their inputs, arg-max indices of the patch maps).
    public var diagnostics: [(name: String, value: Float)] = []
    /// Named intermediate tensors for tests; no training decision reads them.
    public var tensors: [String: Tensor] = [:]

    public init() {}

    public subscript(loss name: String) -> Float? { losses.first { $0.name == name }?.value }
    public subscript(diagnostic name: String) -> Float? { diagnostics.first { $0.name == name }?.value }
}

/// Problems during a training step.
public enum TrainingStepError: LocalizedError {
    case nonFinite(what: String, value: Float)

    public var errorDescription: String? {
        switch self {
        case let .nonFinite(what, value): return "\(what) is \(value)"
        }
    }
}

/// The names a recipe declares for its step (junyanz's `loss_names` / `visual_names`): they
/// decide what the log, the progress line, the epoch summary and the sample grids show.
public struct StepDeclaration: Sendable {
    /// Every loss the step reports, in log order.
    public let losses: [String]
    /// The losses shown on the progress line.
    public let progressLosses: [String]
    /// λ values (diagnostic name, short label): on the progress line, in the log and in the
    /// epoch summary.
    public let lambdas: [(name: String, label: String)]
    /// Further diagnostics written to the log every step (not summarised).
    public let loggedDiagnostics: [String]
    /// Sample grid rows, one pattern per direction: the images of a row, left to right, by name
    /// (`real_A`, `fake_B`, `rec_A`, ...; see `ModelRecipe.sampleImages`).
    public let sampleRows: [[String]]

    public init(losses: [String], progressLosses: [String], lambdas: [(name: String, label: String)] = [],
                loggedDiagnostics: [String] = [],
                sampleRows: [[String]] = [["real_A", "fake_B", "rec_A"], ["real_B", "fake_A", "rec_B"]]) {
        precondition(Set(progressLosses).isSubset(of: losses), "progress losses must be declared losses")
        self.losses = losses
        self.progressLosses = progressLosses
        self.lambdas = lambdas
        self.loggedDiagnostics = loggedDiagnostics
        self.sampleRows = sampleRows
    }

    /// Names written to the log each step, in order: losses, then diagnostics.
    public var loggedNames: [String] { losses + loggedDiagnostics }
    /// Names averaged in the epoch summary: losses and λ values.
    public var summaryNames: [String] { losses + lambdas.map(\.name) }
}
