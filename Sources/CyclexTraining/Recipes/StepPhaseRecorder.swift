/// Receives the start of each phase of a training step, so the benchmark can time the real step
/// phase by phase (`cyclex-bench --profile`). Recipes call it only when one is set: training pays
/// one nil check per phase.
public protocol StepPhaseRecorder: AnyObject {
    /// The phase `name` starts now (and the previous one ends).
    func begin(_ name: String)
}
