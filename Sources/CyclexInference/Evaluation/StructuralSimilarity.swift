import Foundation

/// SSIM, the structural similarity index of Wang, Bovik, Sheikh and Simoncelli (IEEE TIP 2004),
/// in its standard form:
///
/// - samples on the [0, 1] scale (8-bit values / 255), so the data range L is 1 and
///   C1 = (0.01·L)², C2 = (0.03·L)²;
/// - local statistics under an 11×11 Gaussian window with σ = 1.5 (normalised to sum 1),
///   population (not sample) variances and covariance;
/// - SSIM(x, y) = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)) per window
///   position, averaged over the positions where the window lies wholly inside the image
///   (the "valid" region, (H − 10) × (W − 10) positions);
/// - each colour channel separately, then the mean over channels.
///
/// Identical images score exactly 1; the value falls towards 0 (and can go negative) as local
/// structure, contrast and brightness disagree. This is the convention of Wang et al.'s reference
/// implementation and of scikit-image's `structural_similarity(..., gaussian_weights=True,
/// sigma=1.5, use_sample_covariance=False, data_range=1)`.
public enum StructuralSimilarity {
    /// Side of the Gaussian window; images need at least this many rows and columns.
    public static let windowSize = 11
    /// Standard deviation of the Gaussian window in pixels.
    public static let sigma = 1.5
    /// Stabilisers for data range 1: C1 = (K1·L)², C2 = (K2·L)² with K1 = 0.01, K2 = 0.03.
    public static let c1 = 0.01 * 0.01
    public static let c2 = 0.03 * 0.03

    /// The normalised 1-D Gaussian taps (the 2-D window is their outer product).
    static let taps: [Double] = {
        let radius = windowSize / 2
        let raw = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let sum = raw.reduce(0, +)
        return raw.map { $0 / sum }
    }()

    /// Mean SSIM over channels of two 8-bit images with the same interleaved layout (HWC,
    /// `width * height * channels` samples each). Returns nil when the image is smaller than the
    /// 11×11 window in either direction (SSIM is undefined there).
    public static func mean(_ x: [UInt8], _ y: [UInt8], width: Int, height: Int, channels: Int) -> Double? {
        precondition(x.count == width * height * channels && y.count == x.count,
                     "SSIM needs two images of \(width)x\(height)x\(channels) samples")
        guard width >= windowSize, height >= windowSize, channels > 0 else { return nil }
        var total = 0.0
        for c in 0..<channels {
            var a = [Double](repeating: 0, count: width * height)
            var b = a
            for i in 0..<(width * height) {
                a[i] = Double(x[i * channels + c]) / 255
                b[i] = Double(y[i * channels + c]) / 255
            }
            total += plane(a, b, width: width, height: height)
        }
        return total / Double(channels)
    }

    /// SSIM of one pair of [0, 1] planes (row-major `height × width`), averaged over the valid
    /// window positions. Requires `width, height >= windowSize`.
    public static func plane(_ x: [Double], _ y: [Double], width: Int, height: Int) -> Double {
        precondition(width >= windowSize && height >= windowSize && x.count == width * height && y.count == x.count)
        let n = width * height
        var xx = [Double](repeating: 0, count: n), yy = xx, xy = xx
        for i in 0..<n {
            xx[i] = x[i] * x[i]; yy[i] = y[i] * y[i]; xy[i] = x[i] * y[i]
        }
        let (outW, outH) = (width - windowSize + 1, height - windowSize + 1)
        let muX = validFiltered(x, width: width, height: height)
        let muY = validFiltered(y, width: width, height: height)
        let eXX = validFiltered(xx, width: width, height: height)
        let eYY = validFiltered(yy, width: width, height: height)
        let eXY = validFiltered(xy, width: width, height: height)
        var sum = 0.0
        for i in 0..<(outW * outH) {
            let (mx, my) = (muX[i], muY[i])
            let varX = eXX[i] - mx * mx, varY = eYY[i] - my * my, cov = eXY[i] - mx * my
            sum += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (varX + varY + c2))
        }
        return sum / Double(outW * outH)
    }

    /// Separable Gaussian filtering keeping only positions where the window fits:
    /// [H, W] → [H − 10, W − 10], row-major.
    static func validFiltered(_ p: [Double], width: Int, height: Int) -> [Double] {
        let k = windowSize, outW = width - k + 1, outH = height - k + 1
        var rows = [Double](repeating: 0, count: height * outW)
        for r in 0..<height {
            for c in 0..<outW {
                var s = 0.0
                for t in 0..<k { s += taps[t] * p[r * width + c + t] }
                rows[r * outW + c] = s
            }
        }
        var out = [Double](repeating: 0, count: outH * outW)
        for r in 0..<outH {
            for c in 0..<outW {
                var s = 0.0
                for t in 0..<k { s += taps[t] * rows[(r + t) * outW + c] }
                out[r * outW + c] = s
            }
        }
        return out
    }
}
