import CConvKernels
import Foundation

/// The convolution kernels written in C (`Sources/CConvKernels`): the Winograd transforms and the
/// thin direct convolution, each compiled for AVX-512, AVX2 + FMA and the baseline and chosen at
/// run time from the CPU, so they use AVX-512 even where OpenBLAS is pinned to older kernels.
/// The Swift kernels they replace stay as the reference and for A/B timing.
public enum NativeKernels {
    /// Whether the engine uses the C kernels (default: yes; `CYCLEX_C_KERNELS=0` keeps the Swift
    /// ones, for A/B timing in one binary).
    public static let isEnabled: Bool = ProcessInfo.processInfo.environment["CYCLEX_C_KERNELS"] != "0"

    /// Replaces `isEnabled` inside `$override.withValue(…) { … }` (tests compare both paths).
    @TaskLocal public static var override: Bool?

    /// Whether this call should use the C kernels.
    static var inUse: Bool { override ?? isEnabled }

    /// The instruction set the C kernels run with: "avx512", "avx2" or "baseline"
    /// (`CYCLEX_ISA=avx2|baseline` caps it).
    public static var instructionSet: String { String(cString: cx_kernel_isa_name()) }

    /// Sets the instruction set for the rest of the process (2 AVX-512, 1 AVX2, 0 baseline), capped by
    /// what the CPU has; returns the one now in use. For tests that check every variant.
    @discardableResult
    public static func setInstructionSet(_ level: Int) -> String {
        cx_set_kernel_isa(Int32(level))
        return instructionSet
    }
}
