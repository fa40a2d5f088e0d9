import CBFloat16Kernels
import Foundation

/// The arithmetic of `cyclex translate`'s convolutions (docs/translate.md#precision).
public enum InferencePrecision: String, Sendable, CaseIterable {
    /// float32 throughout (the default; what training computes).
    case f32
    /// Convolution operands rounded to bfloat16 (8-bit mantissa), products accumulated in float32,
    /// on the CPU's AVX512_BF16 dot-product instructions; normalisation, activations and the thin
    /// output layers stay float32.
    case bf16
}

/// Whether the bf16 kernels can run here, and the refusal when they cannot.
public enum BFloat16Support {
    /// True when the CPU reports AVX512F, AVX512BW, AVX512VL and AVX512_BF16 and the OS saves the
    /// AVX-512 registers (checked with CPUID/XGETBV once), unless a test pretends otherwise.
    public static var isAvailable: Bool { hardware && !(pretendUnavailable ?? false) }

    static let hardware: Bool = cx_bf16_supported() != 0

    /// Inside `$pretendUnavailable.withValue(true) { … }` the CPU counts as one without
    /// AVX512_BF16, so tests check the refusal on every machine.
    @TaskLocal static var pretendUnavailable: Bool?

    /// The CPU's relevant vector extensions, e.g. "avx avx2 fma avx512f avx512bw avx512vl".
    public static var cpuFeatures: String { String(cString: cx_cpu_vector_features()) }

    /// The error `--precision bf16` gives on a CPU without AVX512_BF16.
    public static var unavailableMessage: String {
        "--precision bf16 needs AVX512_BF16; this CPU has \(cpuFeatures). Use --precision f32 (the default)."
    }
}

/// `--precision bf16` on a CPU that cannot run it.
public struct PrecisionUnavailableError: LocalizedError, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

extension InferencePrecision {
    /// Throws `PrecisionUnavailableError` when this precision cannot run on this CPU.
    public func checkAvailable() throws {
        if self == .bf16 && !BFloat16Support.isAvailable {
            throw PrecisionUnavailableError(BFloat16Support.unavailableMessage)
        }
    }
}
