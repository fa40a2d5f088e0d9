import CyclexEngine
import Foundation

/// LIME (Ribeiro et al. 2016) for a discriminator's real-probability, on fixed square patches
/// (docs/explanations.md#lime).
///
/// For one image x [C, H, W]: draw `samples` binary vectors z ∈ {0,1}^P over the P patches (the
/// first is all ones, the unperturbed image; each other switches off a uniformly drawn number of
/// randomly chosen patches), build the perturbed images (a switched-off patch takes its own mean
/// value per channel, LIME's default "hide colour"), query the discriminator on all of them in one
/// batch, weight each sample by the exponential kernel √exp(−d²/w²) of the cosine distance d
/// between z and the all-ones vector, and fit the ridge surrogate p ≈ β₀ + Σ βⱼ zⱼ in Double
/// (weighted, intercept not penalised). Every pixel of patch j gets βⱼ (signed; same for all
/// channels). Unlike a degenerate set-up where the queried output is constant, the surrogate
/// regresses the probability itself, so β measures how much each patch moves D's verdict.
public struct LimeExplainer: Sendable {
    /// A discriminator split at its first affine stage: pre-activations W·x + b ([h, D] weight,
    /// x flattened), then `rest` from pre-activations [n, h] to n probabilities (evaluation mode).
    public struct AffineHead {
        public let weight: Tensor
        public let bias: Tensor
        public let rest: (Tensor) -> Tensor
        public init(weight: Tensor, bias: Tensor, rest: @escaping (Tensor) -> Tensor) {
            self.weight = weight; self.bias = bias; self.rest = rest
        }
    }

    /// Side of the square patches (the last row/column of patches may be smaller).
    public var patchSize: Int
    /// Perturbed samples per image, the unperturbed one included.
    public var samples: Int
    /// Kernel width on the cosine distance (LIME's image default 0.25).
    public var kernelWidth: Double
    /// Ridge penalty on the patch coefficients (scikit-learn's default α = 1).
    public var ridge: Double

    public init(patchSize: Int = 4, samples: Int = 64, kernelWidth: Double = 0.25, ridge: Double = 1) {
        precondition(patchSize >= 1 && samples >= 2 && kernelWidth > 0 && ridge >= 0, "invalid LIME settings")
        self.patchSize = patchSize; self.samples = samples; self.kernelWidth = kernelWidth; self.ridge = ridge
    }

    /// Patch index of every pixel of an H×W plane, and the number of patches.
    public func patchMap(height: Int, width: Int) -> (indices: [Int], count: Int) {
        let across = (width + patchSize - 1) / patchSize, down = (height + patchSize - 1) / patchSize
        var indices = [Int](repeating: 0, count: height * width)
        for y in 0..<height { for x in 0..<width { indices[y * width + x] = (y / patchSize) * across + x / patchSize } }
        return (indices, across * down)
    }

    /// Attributions [B, C, H, W] for `images` [B, C, H, W]: row i is LIME's coefficient map of
    /// image i, for the rows where `explain[i]` is true (others are 0; nil explains every row).
    /// `discriminator` maps [n, C, H, W] to n probabilities (any shape with n elements); it should
    /// not change state (evaluation mode).
    public func attributions(of discriminator: (Tensor) -> Tensor, at images: Tensor, explain: [Bool]? = nil,
                             using generator: inout RandomGenerator) -> Tensor {
        precondition(images.rank == 4, "LIME takes [B, C, H, W], got \(images.shape)")
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let per = c * h * w
        let out = Tensor(zeros: images.shape)
        for i in 0..<b where explain?[i] ?? true {
            let image = Array(UnsafeBufferPointer(start: images.pointer + i * per, count: per))
            let coefficients = explainOne(image, channels: c, height: h, width: w, discriminator: discriminator,
                                          using: &generator)
            let (map, _) = patchMap(height: h, width: w)
            for ch in 0..<c {
                for p in 0..<(h * w) { out.pointer[i * per + ch * h * w + p] = Float(coefficients[map[p]]) }
            }
        }
        return out
    }

    /// The surrogate's patch coefficients β (length P) for one image given as CHW scalars.
    public func explainOne(_ image: [Float], channels c: Int, height h: Int, width w: Int,
                           discriminator: (Tensor) -> Tensor, using generator: inout RandomGenerator) -> [Double] {
        let (map, patches) = patchMap(height: h, width: w)
        let fill = patchMeans(image, channels: c, height: h, width: w)
        let z = perturbations(patches: patches, using: &generator)
        let batch = Tensor(uninitializedShape: [samples, c, h, w])
        let per = c * h * w
        for s in 0..<samples {
            let row = batch.pointer + s * per
            for ch in 0..<c {
                for p in 0..<(h * w) {
                    let patch = map[p]
                    row[ch * h * w + p] = z[s * patches + patch] ? image[ch * h * w + p] : fill[patch * c + ch]
                }
            }
        }
        let probabilities = withoutGradient { discriminator(batch) }
        precondition(probabilities.count == samples, "the discriminator gave \(probabilities.shape) for \(samples) images")
        return fit(z, patches: patches, probabilities: probabilities.scalars)
    }

    /// Per patch and channel mean [P·C] (patch-major): the value a switched-off patch takes.
    func patchMeans(_ image: [Float], channels c: Int, height h: Int, width w: Int) -> [Float] {
        let (map, patches) = patchMap(height: h, width: w)
        var sums = [Double](repeating: 0, count: patches * c), counts = [Double](repeating: 0, count: patches)
        for p in 0..<(h * w) { counts[map[p]] += 1 }
        for ch in 0..<c { for p in 0..<(h * w) { sums[map[p] * c + ch] += Double(image[ch * h * w + p]) } }
        return (0..<(patches * c)).map { Float(sums[$0] / counts[$0 / c]) }
    }

    /// The weighted ridge surrogate's coefficients for keep-flags `z` [samples × P] and the
    /// discriminator's probabilities of the perturbed images.
    func fit(_ z: [Bool], patches: Int, probabilities: [Float]) -> [Double] {
        let targets = probabilities.map(Double.init)
        let weights = (0..<samples).map { s -> Double in
            let on = Double((0..<patches).filter { z[s * patches + $0] }.count)
            let distance = 1 - on / (on.squareRoot() * Double(patches).squareRoot() + 1e-300)
            return exp(-distance * distance / (kernelWidth * kernelWidth)).squareRoot()
        }
        return Self.weightedRidge(features: z.map { $0 ? 1.0 : 0.0 }, rows: samples, columns: patches,
                                  targets: targets, weights: weights, penalty: ridge)
    }

    /// The same attributions as `attributions(of:at:explain:using:)` (the same perturbations from
    /// the same stream) for a discriminator whose first stage is affine, `head`, without building
    /// the perturbed images: a perturbed image is x + Σⱼ (1 − zⱼ)·δⱼ, δⱼ the change that fills
    /// patch j with its mean, so its first pre-activations are W·x + b + Σⱼ (1 − zⱼ)·(W·δⱼ). The
    /// P columns W·δⱼ together cost one product with W (δⱼ are disjoint); the samples then cost an
    /// [S, P]·[P, h] product instead of [S, D]·[D, h]. All explained images' samples go through
    /// `head.rest` in one batch.
    public func attributions(of head: AffineHead, at images: Tensor, explain: [Bool]? = nil,
                             using generator: inout RandomGenerator) -> Tensor {
        precondition(images.rank == 4, "LIME takes [B, C, H, W], got \(images.shape)")
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let per = c * h * w, width = head.weight.shape[0]
        precondition(head.weight.shape == [width, per] && head.bias.count == width, "head \(head.weight.shape) for images \(images.shape)")
        let rows = (0..<b).filter { explain?[$0] ?? true }
        let out = Tensor(zeros: images.shape)
        guard !rows.isEmpty else { return out }
        let (map, patches) = patchMap(height: h, width: w)
        let transposed = Tensor(uninitializedShape: [per, width])  // [D, h]: row e is W's column e
        for u in 0..<width { for e in 0..<per { transposed.pointer[e * width + u] = head.weight.pointer[u * per + e] } }
        let pre = Tensor(uninitializedShape: [rows.count * samples, width])
        var flags: [[Bool]] = []
        for (r, i) in rows.enumerated() {
            let image = Array(UnsafeBufferPointer(start: images.pointer + i * per, count: per))
            let fill = patchMeans(image, channels: c, height: h, width: w)
            let z = perturbations(patches: patches, using: &generator)
            flags.append(z)
            // Columns W·δⱼ as rows of `shift` [P, h]; the unperturbed pre-activations W·x + b.
            let shift = Tensor(zeros: [patches, width])
            let base = withoutGradient {
                Tensor.matmul(Tensor(shape: [1, per], scalars: image), transposed).reshaped(to: [width]) + head.bias
            }
            for ch in 0..<c {
                for p in 0..<(h * w) {
                    let e = ch * h * w + p, j = map[p]
                    let delta = fill[j * c + ch] - image[e]
                    let column = transposed.pointer + e * width, row = shift.pointer + j * width
                    for u in 0..<width { row[u] += delta * column[u] }
                }
            }
            let off = Tensor(shape: [samples, patches], scalars: z.map { $0 ? 0 : 1 })
            let a = withoutGradient { Tensor.matmul(off, shift) + base }
            (pre.pointer + r * samples * width).update(from: a.pointer, count: samples * width)
        }
        let probabilities = withoutGradient { head.rest(pre) }
        precondition(probabilities.count == rows.count * samples, "the head gave \(probabilities.shape) for \(rows.count * samples) samples")
        let all = probabilities.scalars
        for (r, i) in rows.enumerated() {
            let coefficients = fit(flags[r], patches: patches, probabilities: Array(all[(r * samples)..<((r + 1) * samples)]))
            for ch in 0..<c {
                for p in 0..<(h * w) { out.pointer[i * per + ch * h * w + p] = Float(coefficients[map[p]]) }
            }
        }
        return out
    }

    /// `samples` × P keep-flags, row-major: row 0 keeps everything; each other row switches off
    /// k patches, k uniform in 1...P, chosen without replacement.
    func perturbations(patches: Int, using generator: inout RandomGenerator) -> [Bool] {
        var z = [Bool](repeating: true, count: samples * patches)
        for s in 1..<samples {
            let off = 1 + generator.nextInt(below: patches)
            var order = Array(0..<patches)
            for j in 0..<off {  // partial Fisher–Yates: the first `off` entries are a random subset
                let k = j + generator.nextInt(below: patches - j)
                order.swapAt(j, k)
                z[s * patches + order[j]] = false
            }
        }
        return z
    }

    /// Weighted ridge regression with an unpenalised intercept, in Double: minimises
    /// Σ wᵢ (yᵢ − β₀ − xᵢ·β)² + penalty·|β|² by centring on the weighted means and solving
    /// (XcᵀWXc + penalty·I) β = XcᵀW yc with a Cholesky factorisation. Returns β (no intercept).
    public static func weightedRidge(features x: [Double], rows n: Int, columns p: Int, targets y: [Double],
                                     weights: [Double], penalty: Double) -> [Double] {
        precondition(x.count == n * p && y.count == n && weights.count == n, "ridge: inconsistent sizes")
        let total = max(weights.reduce(0, +), 1e-300)
        var meanX = [Double](repeating: 0, count: p)
        var meanY = 0.0
        for i in 0..<n {
            meanY += weights[i] * y[i]
            for j in 0..<p { meanX[j] += weights[i] * x[i * p + j] }
        }
        meanY /= total
        for j in 0..<p { meanX[j] /= total }
        var a = [Double](repeating: 0, count: p * p), rhs = [Double](repeating: 0, count: p)
        var row = [Double](repeating: 0, count: p)
        for i in 0..<n {
            for j in 0..<p { row[j] = x[i * p + j] - meanX[j] }
            let wi = weights[i], yi = y[i] - meanY
            for j in 0..<p {
                let wj = wi * row[j]
                rhs[j] += wj * yi
                for k in j..<p { a[j * p + k] += wj * row[k] }
            }
        }
        for j in 0..<p {
            a[j * p + j] += penalty
            for k in 0..<j { a[j * p + k] = a[k * p + j] }
        }
        return solvePositiveDefinite(a, rhs, size: p)
    }

    /// Solves A x = b for symmetric positive (semi-)definite A by Cholesky; a tiny diagonal jitter
    /// keeps a singular system (penalty 0 with a constant column) solvable.
    static func solvePositiveDefinite(_ matrix: [Double], _ b: [Double], size p: Int) -> [Double] {
        var l = [Double](repeating: 0, count: p * p)
        let jitter = 1e-12 * max(1, (0..<p).map { matrix[$0 * p + $0] }.max() ?? 1)
        for j in 0..<p {
            var diagonal = matrix[j * p + j] + jitter
            for k in 0..<j { diagonal -= l[j * p + k] * l[j * p + k] }
            let root = max(diagonal, jitter).squareRoot()
            l[j * p + j] = root
            for i in (j + 1)..<max(p, j + 1) {
                var v = matrix[i * p + j]
                for k in 0..<j { v -= l[i * p + k] * l[j * p + k] }
                l[i * p + j] = v / root
            }
        }
        var y = [Double](repeating: 0, count: p)
        for i in 0..<p {
            var v = b[i]
            for k in 0..<i { v -= l[i * p + k] * y[k] }
            y[i] = v / l[i * p + i]
        }
        var x = [Double](repeating: 0, count: p)
        for i in stride(from: p - 1, through: 0, by: -1) {
            var v = y[i]
            for k in (i + 1)..<max(p, i + 1) { v -= l[k * p + i] * x[k] }
            x[i] = v / l[i * p + i]
        }
        return x
    }
}
