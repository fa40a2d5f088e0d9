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
        fit(z[...], patches: patches, probabilities: probabilities[...])
    }

    /// `fit` on slices (one image's rows of a batch), without copying them.
    func fit(_ z: ArraySlice<Bool>, patches: Int, probabilities: ArraySlice<Float>) -> [Double] {
        let first = z.startIndex
        var features = [Double](repeating: 0, count: samples * patches)
        var weights = [Double](repeating: 0, count: samples)
        let rootP = Double(patches).squareRoot()
        for s in 0..<samples {
            var on = 0
            for j in 0..<patches where z[first + s * patches + j] {
                features[s * patches + j] = 1
                on += 1
            }
            let distance = 1 - Double(on) / (Double(on).squareRoot() * rootP + 1e-300)
            weights[s] = exp(-distance * distance / (kernelWidth * kernelWidth)).squareRoot()
        }
        let targets = probabilities.map(Double.init)
        return Self.weightedRidge(features: features, rows: samples, columns: patches,
                                  targets: targets, weights: weights, penalty: ridge)
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
}
