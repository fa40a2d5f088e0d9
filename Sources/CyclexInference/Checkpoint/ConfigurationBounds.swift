import CyclexEngine
import Foundation

/// Sane bounds for a `ModelConfiguration` read from a checkpoint header, checked before any
/// network is built: the header is untrusted, and `generatorFilters: 200000` would otherwise ask
/// for terabytes. The bounds are far above every preset (standard: ngf 64, 9 blocks, ndf 64).
extension ModelConfiguration {
    public static let maximumImageSize = 4096
    public static let maximumFilters = 512
    public static let maximumResidualBlocks = 64
    public static let maximumPoolSize = 1000

    /// The first problem with this configuration, or nil when every field is in range.
    public var boundsProblem: String? {
        func outside<T: Comparable>(_ name: String, _ value: T, _ range: ClosedRange<T>) -> String? {
            range.contains(value) ? nil : "\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)"
        }
        if let p = outside("imageSize", imageSize, stride...Self.maximumImageSize) { return p }
        if imageSize % stride != 0 { return "imageSize \(imageSize) is not a multiple of the network stride \(stride)" }
        if let p = outside("channels", channels, 1...4) { return p }
        if let p = outside("generatorFilters", generatorFilters, 1...Self.maximumFilters) { return p }
        if let p = outside("residualBlocks", residualBlocks, 0...Self.maximumResidualBlocks) { return p }
        if let p = outside("discriminatorFilters", discriminatorFilters, 1...Self.maximumFilters) { return p }
        if let p = outside("poolSize", poolSize, 0...Self.maximumPoolSize) { return p }
        let finiteNonNegative: [(String, Float)] = [
            ("learningRateGenerator", learningRateGenerator), ("learningRateDiscriminator", learningRateDiscriminator),
            ("cycleWeight", cycleWeight), ("identityWeight", identityWeight), ("adversarialWeight", adversarialWeight),
            ("maskStandardDeviation", maskStandardDeviation),
        ]
        for (name, value) in finiteNonNegative where !(value.isFinite && value >= 0) {
            return "\(name) \(value) is not a finite number >= 0"
        }
        for (name, value) in [("maskAdversarialRatio", maskAdversarialRatio), ("maskCycleRatio", maskCycleRatio)]
        where !(value >= 0 && value <= 1) {
            return "\(name) \(value) is outside 0...1"
        }
        if !(gamma.isFinite && gamma > 0 && gamma <= 100) { return "gamma \(gamma) is outside (0, 100]" }
        for (name, value) in [("beta1", beta1), ("beta2", beta2)] where !(value >= 0 && value < 1) {
            return "\(name) \(value) is outside [0, 1)"
        }
        return nil
    }

    /// A lower bound on the weights (convolution kernels only, no biases or norms) of one
    /// generator this configuration builds. A checkpoint must hold at least this many values for
    /// each generator, so memory for the networks is bounded by the file's own size.
    public var minimumGeneratorWeights: Int {
        let (c, f, n) = (channels, generatorFilters, residualBlocks)
        switch kind {
        case .cycleGAN:  // 7×7 stem and head, 3×3 downs/ups at 2f and 4f, blocks at 4f
            return 98 * c * f + f * f * (180 + 288 * n)
        case .xaiCycleGAN:  // 7×7 enc1, 3×3 encoders to 8f, blocks at 8f, decoders, 7×7 head, 3×3 final
            return 58 * c * f + f * f * (18 + 72 + 288 + 1152 * n + 288 + 72 + 18 + 49)
        }
    }

    /// A lower bound on the weights of one PatchGAN discriminator (4×4 kernels up to 8·ndf).
    public var minimumDiscriminatorWeights: Int {
        let f = discriminatorFilters
        return 16 * (channels * f + 2 * f * f + 8 * f * f + 32 * f * f + 8 * f)
    }
}
