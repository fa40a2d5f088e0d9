import Foundation

/// When a run's FID settles (docs/training.md#convergence): the first evaluated epoch from which
/// every later evaluation stays within `band` of the run's best (lowest) FID,
///     e* = min { e : FID(e′) ≤ (1 + band)·min FID  for every evaluated e′ ≥ e }.
/// A retrospective rule: it needs the whole curve, so it compares runs of the same length, as
/// LogicGAN's "converges in 11 instead of 20 epochs" compares two equally long runs. FID is used
/// because it is ≥ 0 and a relative band means the same at every scale; KID's unbiased estimate can
/// be ≤ 0, where a relative band is meaningless.
public struct Convergence: Sendable, Equatable {
    /// Relative band above the best value (cyclex default 10 %).
    public static let defaultBand = 0.10

    public let name: String
    public let bestValue: Double
    public let bestEpoch: Int
    public let finalValue: Double
    public let finalEpoch: Int
    /// The first epoch of the settled stretch (e* above); nil when the last evaluation is itself
    /// outside the band (the run got worse again: not settled).
    public let settledEpoch: Int?
    public let band: Double

    /// The settling point of `points` (one per evaluation, in order); nil for no points or a best
    /// value that is not positive (the band would be meaningless).
    public init?(name: String, points: [RunHistory.Point], band: Double = Convergence.defaultBand) {
        guard let best = points.min(by: { $0.value < $1.value }), best.value > 0, let last = points.last else { return nil }
        let limit = (1 + band) * best.value
        var settled: Int?
        for point in points.reversed() {
            guard point.value <= limit else { break }
            settled = point.epoch
        }
        self.name = name
        bestValue = best.value; bestEpoch = best.epoch
        finalValue = last.value; finalEpoch = last.epoch
        settledEpoch = settled
        self.band = band
    }

    /// The evaluation scores the rule applies to: FIDs (`fid`, `fid_lenet`, `fid_AtoB`, …).
    public static func applies(to name: String) -> Bool { name.lowercased().hasPrefix("fid") }
}

extension TrainingReport {
    /// A table of every run's settling epoch per FID score (empty when no run logged one).
    func convergenceTable() -> String {
        var rows = ""
        for run in runs {
            for (name, points) in run.history.evaluation where Convergence.applies(to: name) {
                guard let c = Convergence(name: name, points: points) else { continue }
                rows += "<tr><td>\(HTML.escaped(run.name))</td><td>\(HTML.escaped(name))</td>"
                    + "<td>\(c.settledEpoch.map(String.init) ?? "not settled")</td><td>\(String(format: "%.3f", c.bestValue)) (epoch \(c.bestEpoch))</td>"
                    + "<td>\(String(format: "%.3f", c.finalValue)) (epoch \(c.finalEpoch))</td></tr>\n"
            }
        }
        guard !rows.isEmpty else { return "" }
        return "<h3>Convergence</h3>\n<p class=\"note\">Settled at: the first evaluated epoch from which every later FID "
            + "stays within \(Int(Convergence.defaultBand * 100)) % of the run's best (docs/training.md#convergence). "
            + "Compare runs of equal length.</p>\n"
            + "<table class=\"runs\"><tr><th>run</th><th>score</th><th>settled at epoch</th><th>best</th><th>last</th></tr>\n"
            + rows + "</table>\n"
    }
}
