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
