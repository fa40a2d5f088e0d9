import Foundation

/// A seedable, serialisable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random stream in cyclex (initialisation, noise masks, pools, crops, flips, dropout)
/// draws from an explicit `RandomGenerator`, so a run is reproducible from its seed and a resumed
/// run continues the exact stream from the `state` saved in its checkpoint.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    /// The four 64-bit words of xoshiro256** state; save and restore them to resume a stream.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            precondition(newValue.count == 4, "RandomGenerator state has 4 words, got \(newValue.count)")
            (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var mix = seed
        func splitMix() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// A generator for an independent stream derived from this one's seed space (e.g. one per worker).
    public mutating func split() -> RandomGenerator { RandomGenerator(seed: next()) }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @usableFromInline
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 random bits (every float32 multiple of 2^-24).
    @inlinable
    public mutating func nextUniformFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextUniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// A pair of independent standard normal values (Box–Muller).
    public mutating func nextNormalPair() -> (Double, Double) {
        var u1 = nextUniformDouble()
        while u1 <= 0 { u1 = nextUniformDouble() }
        let u2 = nextUniformDouble()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (radius * cos(angle), radius * sin(angle))
    }

    /// Uniform integer in 0..<bound.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        return Int(next(upperBound: UInt64(bound)))
    }
}
