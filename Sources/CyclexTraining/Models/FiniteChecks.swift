import CyclexEngine

/// Throws when `value` is NaN or infinite (checked before any optimiser step, so a diverging
/// step never changes the weights).
func requireFinite(_ value: Float, _ what: String) throws {
    guard value.isFinite else { throw TrainingStepError.nonFinite(what: what, value: value) }
}

/// Throws when any gradient of `parameters` holds a non-finite value (their sum is then
/// non-finite too, so one SIMD pass per tensor suffices).
func requireFiniteGradients(_ parameters: [Tensor], _ what: String) throws {
    var sum: Double = 0
    for p in parameters { if let g = p.gradient { sum += Kernels.sumDouble(g.pointer, count: g.count) } }
    guard sum.isFinite else { throw TrainingStepError.nonFinite(what: "a gradient of \(what)", value: Float(sum)) }
}
