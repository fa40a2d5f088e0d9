import Foundation

/// One line chart as inline SVG: raw values faint, a smoothed curve on top, several series on
/// shared axes (colour = value name, dash pattern = run).
public struct LineChart {
    /// One curve.
    public struct Series {
        public var label: String
        /// Index of the value name within the chart (selects the colour).
        public var colorIndex: Int
        /// Index of the run (selects the dash pattern).
        public var runIndex: Int
        /// (x, y) in drawing order.
        public var points: [(x: Double, y: Double)]

        public init(label: String, colorIndex: Int, runIndex: Int, points: [(x: Double, y: Double)]) {
            (self.label, self.colorIndex, self.runIndex, self.points) = (label, colorIndex, runIndex, points)
        }
    }

    /// Unique within the page (names the chart's clip path).
    public var identifier: String
    public var title: String
    public var xLabel: String
    public var series: [Series]
    /// Draw the smoothed curve over faint raw values (training losses); otherwise a plain line
    /// with a dot per value (evaluation scores, logged rarely).
    public var isSmoothed = true

    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                 "#17becf", "#7f7f7f", "#bcbd22"]
    public static let dashes = ["", "7 4", "2 3", "10 3 2 3"]
    /// Most points drawn per curve; longer logs are reduced per bucket of x (min and max for the
    /// raw values, the mean for the smoothed curve).
    public static let maximumPoints = 400

    static let (width, height) = (640.0, 280.0)
    static let (left, right, top, bottom) = (64.0, 12.0, 10.0, 36.0)

    public init(identifier: String, title: String, xLabel: String, series: [Series], isSmoothed: Bool = true) {
        (self.identifier, self.title, self.xLabel, self.series, self.isSmoothed) = (identifier, title, xLabel, series, isSmoothed)
    }

    public static func color(_ index: Int) -> String { palette[index % palette.count] }
    public static func dash(_ index: Int) -> String { dashes[index % dashes.count] }

    /// Centred moving mean over a window of about 1/40 of the points (at least 1), shrinking at the ends.
    public static func smoothed(_ values: [Double]) -> [Double] {
        let n = values.count
        let half = max(0, n / 80)
        guard half > 0 else { return values }
        var prefix = [0.0]
        prefix.reserveCapacity(n + 1)
        for v in values { prefix.append(prefix.last! + v) }
        return (0..<n).map { i in
            let lo = max(0, i - half), hi = min(n, i + half + 1)
            return (prefix[hi] - prefix[lo]) / Double(hi - lo)
        }
    }

    /// The SVG element (`class="chart"`).
    public func svg() -> String {
        let drawn = series.filter { !$0.points.isEmpty }
        let xs = drawn.flatMap { $0.points.map(\.x) }
        var ys: [Double] = []
        var smoothedCurves: [[(x: Double, y: Double)]] = []
        for s in drawn {
            let smooth = isSmoothed ? Self.smoothed(s.points.map(\.y)) : s.points.map(\.y)
            smoothedCurves.append(zip(s.points, smooth).map { ($0.x, $1) })
            ys += smooth
            ys += Self.robustRange(s.points.map(\.y))
        }
        var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1)
        if x1 <= x0 { (x0, x1) = (x0 - 1, x0 + 1) }
        var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        // A constant (or constant up to float rounding, like a logged learning rate) gets ±10%.
        if y1 - y0 <= 1e-6 * max(abs(y0), abs(y1)) {
            let mid = (y0 + y1) / 2, half = max(1e-9, abs(mid) * 0.1)
            (y0, y1) = (mid - half, mid + half)
        }
        let pad = (y1 - y0) * 0.05
        (y0, y1) = (y0 - pad, y1 + pad)

        let plotW = Self.width - Self.left - Self.right, plotH = Self.height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { Self.top + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = "<svg class=\"chart\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\">"
        out += "<title>\(HTML.escaped(title))</title>"
        let clipID = "clip-\(identifier)"
        out += "<defs><clipPath id=\"\(clipID)\"><rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath></defs>"
        out += "<rect class=\"plot\" x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/>"
        let yTicks = Self.ticks(y0, y1), xTicks = Self.ticks(x0, x1)
        for t in yTicks {
            out += "<line class=\"grid\" x1=\"\(f(Self.left))\" x2=\"\(f(Self.left + plotW))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\"/>"
            out += "<text class=\"tick\" x=\"\(f(Self.left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(Self.label(t, step: Self.spacing(yTicks)))</text>"
        }
        for t in xTicks {
            out += "<line class=\"grid\" x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(Self.top))\" y2=\"\(f(Self.top + plotH))\"/>"
            out += "<text class=\"tick\" x=\"\(f(px(t)))\" y=\"\(f(Self.top + plotH + 16))\" text-anchor=\"middle\">\(Self.label(t, step: Self.spacing(xTicks)))</text>"
        }
        out += "<text class=\"axis\" x=\"\(f(Self.left + plotW / 2))\" y=\"\(f(Self.height - 4))\" text-anchor=\"middle\">\(HTML.escaped(xLabel))</text>"
        out += "<g clip-path=\"url(#\(clipID))\">"
        for (s, curve) in zip(drawn, smoothedCurves) {
            let color = Self.color(s.colorIndex), dash = Self.dash(s.runIndex)
            let dashAttribute = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\""
            if isSmoothed, s.points.count > 1 {
                let raw = Self.envelope(s.points, x0: x0, x1: x1)
                out += "<polyline class=\"raw\" stroke=\"\(color)\" points=\"\(raw.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\"/>"
            }
            let line = Self.bucketMeans(curve, x0: x0, x1: x1)
            if line.count > 1 {
                out += "<polyline class=\"line\" stroke=\"\(color)\"\(dashAttribute) points=\"\(line.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\"><title>\(HTML.escaped(s.label))</title></polyline>"
            }
            if !isSmoothed || line.count == 1 {
                for p in s.points {
                    out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(color)\"><title>\(HTML.escaped(s.label)): \(Self.label(p.y)) at \(Self.label(p.x))</title></circle>"
                }
            }
        }
        out += "</g></svg>"
        return out
    }

    /// The 2nd–98th percentile of raw values, so single spikes do not flatten the curve (they
    /// are clipped at the plot's edge instead).
    static func robustRange(_ values: [Double]) -> [Double] {
        guard values.count > 50 else { return values }
        let sorted = values.sorted()
        return [sorted[sorted.count * 2 / 100], sorted[sorted.count * 98 / 100]]
    }

    /// Min and max per x bucket, in x order (the faint band of raw values).
    static func envelope(_ points: [(x: Double, y: Double)], x0: Double, x1: Double) -> [(x: Double, y: Double)] {
        guard points.count > maximumPoints else { return points }
        let buckets = maximumPoints / 2
        var low = [(x: Double, y: Double)?](repeating: nil, count: buckets), high = low
        for p in points {
            let b = min(buckets - 1, max(0, Int((p.x - x0) / (x1 - x0) * Double(buckets))))
            if low[b] == nil || p.y < low[b]!.y { low[b] = p }
            if high[b] == nil || p.y > high[b]!.y { high[b] = p }
        }
        var out: [(x: Double, y: Double)] = []
        for b in 0..<buckets {
            guard let l = low[b], let h = high[b] else { continue }
            out += l.x <= h.x ? [l, h] : [h, l]
        }
        return out
    }

    /// Mean per x bucket.
    static func bucketMeans(_ points: [(x: Double, y: Double)], x0: Double, x1: Double) -> [(x: Double, y: Double)] {
        guard points.count > maximumPoints else { return points }
        var sums = [(x: Double, y: Double, n: Int)](repeating: (0, 0, 0), count: maximumPoints)
        for p in points {
            let b = min(maximumPoints - 1, max(0, Int((p.x - x0) / (x1 - x0) * Double(maximumPoints))))
            sums[b] = (sums[b].x + p.x, sums[b].y + p.y, sums[b].n + 1)
        }
        return sums.filter { $0.n > 0 }.map { ($0.x / Double($0.n), $0.y / Double($0.n)) }
    }

    /// About five round tick values (1, 2 or 5 × 10^k apart) inside [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 5
        guard raw > 0, raw.isFinite else { return [lo] }
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var out: [Double] = []
        var t = ceil(lo / step) * step
        while t <= hi + step * 1e-9, out.count < 20 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    /// Distance between neighbouring ticks (0 for fewer than two).
    static func spacing(_ ticks: [Double]) -> Double { ticks.count > 1 ? ticks[1] - ticks[0] : 0 }

    /// A short number for a tick or tooltip: enough significant digits to tell ticks `step` apart.
    static func label(_ v: Double, step: Double = 0) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        var digits = 3
        if step > 0 { digits = max(1, min(8, Int(ceil(log10(a / step))) + 1)) }
        if a >= 1, a < 1e5, step >= 1 || step == 0 && a >= 100 { return String(format: "%.0f", v) }
        return String(format: "%.\(digits)g", v)
    }
}
