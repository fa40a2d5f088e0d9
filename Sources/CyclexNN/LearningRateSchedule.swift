/// Linear learning-rate decay schedules (docs/training.md#learning-rate-schedules): the factor that multiplies
/// the base learning rate while training epoch `e` (1-based).
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    /// junyanz, scheduler stepped at the end of each epoch (cyclex's CycleGAN default):
    /// 1 − max(0, e − n)/(decay + 1); the last epoch still trains at 1/(decay+1).
    case junyanzEnd(constantEpochs: Int, decayEpochs: Int)
    /// junyanz upstream since 2020 (stepped at the start): 1 − max(0, e + 1 − n)/(decay + 1).
    case junyanzStart(constantEpochs: Int, decayEpochs: Int)
    /// xAI-CycleGAN's first version / Mask CycleGAN: 1 − max(0, (e − 1) − decayStart)/(total − decayStart).
    case decayAfter(decayStart: Int, totalEpochs: Int)
    /// No decay.
    case constant

    public func factor(epoch e: Int) -> Float {
        switch self {
        case let .junyanzEnd(n, d): return 1 - Float(max(0, e - n)) / Float(d + 1)
        case let .junyanzStart(n, d): return 1 - Float(max(0, e + 1 - n)) / Float(d + 1)
        case let .decayAfter(start, total): return 1 - Float(max(0, (e - 1) - start)) / Float(max(1, total - start))
        case .constant: return 1
        }
    }
}

/// Linear learning-rate decay over the last `decaySteps` of a run of `totalSteps` optimisation steps
/// (`cyclex train --max-steps T --decay-steps d`, docs/training.md#learning-rate-schedules): junyanz's
/// linear decay to zero, counted in steps instead of epochs, for runs far shorter than an epoch schedule
/// can resolve (the demo trains a few epochs; an epoch-stepped decay would change the rate twice).
public struct StepLinearDecay: Sendable, Equatable, Codable {
    public let totalSteps: Int
    public let decaySteps: Int

    public init(totalSteps: Int, decaySteps: Int) {
        precondition(totalSteps >= 1 && (0...totalSteps).contains(decaySteps), "decay steps \(decaySteps) of \(totalSteps)")
        self.totalSteps = totalSteps; self.decaySteps = decaySteps
    }

    /// The factor while taking step `s` (1-based): 1 for s ≤ T − d, then (T − s + 1)/(d + 1), so the
    /// rate falls by 1/(d + 1) per step and the last step still trains at 1/(d + 1) (no step at rate 0,
    /// as with the epoch-end schedule). Steps past T (a resumed run with a larger budget) keep that last factor.
    public func factor(step s: Int) -> Float {
        let remaining = totalSteps - min(s, totalSteps) + 1
        return min(1, Float(remaining) / Float(decaySteps + 1))
    }
}
