import CConvKernels
import Foundation

/// Direct stride-1, unpadded convolution, for two kinds of layers where im2col + sgemm is slow:
/// - very few output channels (the generators' final 7×7 ngf→3 and 3×3 ngf→3 convs): as a GEMM
///   these have M = Cout ≤ 4, which runs at a few percent of sgemm speed, and their im2col matrix
///   is huge (205 MB for 64×128² with a 7×7 kernel);
/// - large kernels (the 7×7 stems and the xAI generator's 7×7 ngf→ngf head) of any width, on the C
///   kernels: their column matrix has 49·Cin rows per output pixel and a GEMM with M = Cout = 16…64
///   packs all of it for few multiply-adds per element, so building and packing it cost more than
///   the products.
/// Here every kernel tap becomes a vectorised row AXPY that stays in cache (groups of 4 output
/// channels at a time in the C kernels).
///
/// Shapes per image: x [Cin, H, W], weight [Cout, Cin, kh, kw], y [Cout, H−kh+1, W−kw+1].
public enum DirectConvolution {
    /// Used for any kernel size when Cout is at most this.
    public static let maximumOutputChannels = 4

    /// Used for any Cout when the kernel has at least this many taps (5×5 and up) and the C kernels
    /// are in use.
    public static let minimumWideKernelTaps = 25

    /// Whether large kernels of any width run here (default: yes; `CYCLEX_DIRECT_LARGE_KERNELS=0`
    /// keeps them on im2col + sgemm, for A/B timing in one binary).
    public static let largeKernelsEnabled: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_DIRECT_LARGE_KERNELS"] != "0"

    /// Replaces `largeKernelsEnabled` inside `$largeKernelsOverride.withValue(…) { … }` (tests).
    @TaskLocal public static var largeKernelsOverride: Bool?

    /// Whether a stride-1 unpadded convolution with this many output channels and taps runs here.
    static func handles(outputChannels cout: Int, taps: Int) -> Bool {
        guard taps > 1 else { return false }
        if cout <= maximumOutputChannels { return true }
        return taps >= minimumWideKernelTaps && NativeKernels.inUse && (largeKernelsOverride ?? largeKernelsEnabled)
    }

    /// y (+)= conv(x, w); `y` must hold the bias (or zeros).
    public static func forward(
        x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        inputChannels cin: Int, outputChannels cout: Int, height: Int, width: Int, kernelHeight kh: Int, kernelWidth kw: Int
    ) {
        let (outH, outW) = (height - kh + 1, width - kw + 1)
        let plane = outH * outW
        if NativeKernels.inUse {
            Parallel.forRanges(outH, minimumChunk: max(1, 2048 / max(outW * cin * kh * kw / 64, 1))) { rows in
                cx_direct_forward(x, w, y, cin, cout, height, width, kh, kw, rows.lowerBound, rows.upperBound)
            }
            return
        }
        Parallel.forRanges(outH, minimumChunk: max(1, 2048 / max(outW * cin * kh * kw / 64, 1))) { rows in
            for oh in rows {
                for ci in 0..<cin {
                    for ki in 0..<kh {
                        let xrow = x + (ci * height + oh + ki) * width
                        for kj in 0..<kw {
                            let src = xrow + kj
                            for co in 0..<cout {
                                let wv = w[((co * cin + ci) * kh + ki) * kw + kj]
                                let dst = y + co * plane + oh * outW
                                for j in 0..<outW { dst[j] += wv * src[j] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dx += convᵀ(dy, w): each input channel gathers from every output channel. `dx` must be
    /// initialised. Parallel over input channels (disjoint writes).
    public static func backwardInput(
        gradOutput gy: UnsafePointer<Float>, weight w: UnsafePointer<Float>, gradInput gx: UnsafeMutablePointer<Float>,
        inputChannels cin: Int, outputChannels cout: Int, height: Int, width: Int, kernelHeight kh: Int, kernelWidth kw: Int
    ) {
        let (outH, outW) = (height - kh + 1, width - kw + 1)
        let plane = outH * outW
        if NativeKernels.inUse {
            // Blocks of 4 input channels per call keep the kernel's accumulators full.
            Parallel.forRanges((cin + 3) / 4, minimumChunk: 1) { blocks in
                cx_direct_backward_input(gy, w, gx, cin, cout, height, width, kh, kw,
                                         4 * blocks.lowerBound, min(cin, 4 * blocks.upperBound))
            }
            return
        }
        Parallel.forRanges(cin, minimumChunk: 1) { channels in
            for ci in channels {
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        for co in 0..<cout {
                            let wv = w[((co * cin + ci) * kh + ki) * kw + kj]
                            for oh in 0..<outH {
                                let dst = gx + (ci * height + oh + ki) * width + kj
                                let src = gy + co * plane + oh * outW
                                for j in 0..<outW { dst[j] += wv * src[j] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dw (+)= Σ dy · x over positions: one dot product per weight. Parallel over input channels.
    public static func backwardWeight(
        gradOutput gy: UnsafePointer<Float>, x: UnsafePointer<Float>, gradWeight gw: UnsafeMutablePointer<Float>,
        accumulate: Bool, inputChannels cin: Int, outputChannels cout: Int, height: Int, width: Int,
        kernelHeight kh: Int, kernelWidth kw: Int
    ) {
        let (outH, outW) = (height - kh + 1, width - kw + 1)
        let plane = outH * outW
        if NativeKernels.inUse {
            Parallel.forRanges(cin, minimumChunk: 1) { channels in
                cx_direct_backward_weight(gy, x, gw, accumulate ? 1 : 0, cin, cout, height, width, kh, kw,
                                          channels.lowerBound, channels.upperBound)
            }
            return
        }
        Parallel.forRanges(cin, minimumChunk: 1) { channels in
            for ci in channels {
                for co in 0..<cout {
                    for ki in 0..<kh {
                        for kj in 0..<kw {
                            var sum: Double = 0
                            for oh in 0..<outH {
                                sum += Kernels.dot(gy + co * plane + oh * outW, x + (ci * height + oh + ki) * width + kj, count: outW)
                            }
                            let index = ((co * cin + ci) * kh + ki) * kw + kj
                            gw[index] = (accumulate ? gw[index] : 0) + Float(sum)
                        }
                    }
                }
            }
        }
    }
}
