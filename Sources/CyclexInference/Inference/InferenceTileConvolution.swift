import CBFloat16Kernels
import CyclexEngine

/// One convolution on the 16-output-channel × 16-pixel tile kernel (`CBFloat16Kernels/ctile16.h`),
/// float32 or bf16, with its weights packed once.
///
/// The kernel vectorises over output channels and broadcasts input pixels, so it needs no column
/// matrix and costs the same at stride 2 as at stride 1, and an 8 × 8 image still fills whole
/// tiles. The inference forward uses it for the stride-2 encoder convolutions, for transposed
/// convolutions (as four sub-pixel convolutions, `InferenceTransposedConvolution`) and for 3×3
/// convolutions on images too small for Winograd's tiles to fill the GEMM kernel's panels.
///
/// Shapes: weight [Cout, Cin, kh, kw]; the input is one image [Cin, H, W], padded into a buffer by
/// `pad` first (the kernel reads no padding and may read a little past the last plane).
final class TileConvolution {
    let outputChannels: Int, inputChannels: Int, kernelHeight: Int, kernelWidth: Int
    let isBF16: Bool
    private let packed: TensorStorage

    /// Whether the kernels can run here (AVX-512 F/BW/VL; bf16 also needs AVX512_BF16).
    static var available: Bool { InferenceGEMM.float32 == .avx512 }

    /// The layers hand the kernel only multiples of 16 output channels (no half-empty tiles);
    /// inside `$anyChannelCount.withValue(true) { … }` they hand it any count, so tests can run
    /// it on the op fixtures' few channels.
    @TaskLocal static var anyChannelCount: Bool?

    /// Whether a layer with this many output channels goes to the kernel.
    static func takes(outputChannels: Int) -> Bool {
        available && InferenceConvolution.tilesEnabled
            && (anyChannelCount == true || (outputChannels >= 16 && outputChannels % 16 == 0))
    }

    init(weight: UnsafePointer<Float>, outputChannels: Int, inputChannels: Int, kernelHeight: Int, kernelWidth: Int,
         bf16: Bool) {
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        isBF16 = bf16
        let (cout, cin, kh, kw) = (Int32(outputChannels), Int32(inputChannels), Int32(kernelHeight), Int32(kernelWidth))
        packed = TensorStorage(count: cx_tile16_packed_count(cout, cin, kh, kw, bf16 ? 1 : 0))
        if bf16 {
            cx_bf16_tile16_pack_weights(weight, cout, cin, kh, kw, packed.words)
        } else {
            cx_f32_tile16_pack_weights(weight, cout, cin, kh, kw, packed.pointer)
        }
    }

    /// x [channels, H, W] padded (zeros, or reflection without repeating the edge) into a buffer
    /// for `run` of this precision: floats, or bf16 channel pairs. Returns the buffer and the
    /// padded height and width.
    static func pad(
        _ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, top: Int, bottom: Int, left: Int,
        right: Int, reflect: Bool, bf16: Bool
    ) -> (buffer: TensorStorage, height: Int, width: Int) {
        let (ph, pw) = (height + top + bottom, width + left + right)
        let planes = bf16 ? (channels + 1) / 2 : channels
        let buffer = TensorStorage(count: planes * ph * pw + Int(CX_TILE16_SLACK))
        // The slack is read (partial tiles) but never used; keep it finite.
        (buffer.pointer + planes * ph * pw).update(repeating: 0, count: Int(CX_TILE16_SLACK))
        let args = (Int32(channels), Int32(height), Int32(width), Int32(top), Int32(bottom), Int32(left), Int32(right))
        Parallel.forRanges(planes, minimumChunk: max(1, 32_768 / max(1, ph * pw))) { range in
            if bf16 {
                cx_bf16_pad_pairs(x, args.0, args.1, args.2, args.3, args.4, args.5, args.6, reflect ? 1 : 0, buffer.words,
                                  Int32(range.lowerBound), Int32(range.upperBound))
            } else {
                cx_f32_pad_planes(x, args.0, args.1, args.2, args.3, args.4, args.5, args.6, reflect ? 1 : 0, buffer.pointer,
                                  Int32(range.lowerBound), Int32(range.upperBound))
            }
        }
        return (buffer, ph, pw)
    }

    /// One call of the kernel on the padded input from `pad`: where it reads, where it writes.
    struct Call {
        let input: TensorStorage, offset: Int, height: Int, width: Int, stride: Int
        let bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
        let outputHeight: Int, outputWidth: Int, plane: Int, rowStride: Int, pixelStride: Int
    }

    /// y (+ bias) = w ∗ input with `stride` (1 or 2) over the padded input from `pad`
    /// ([Cin, height, width]), read from `offset` elements into each plane on (e.g. a sub-pixel
    /// phase's first row and column); output channel co, row i, column j lands at
    /// y[co · plane + i · rowStride + j · pixelStride]. Its work items are `items(of:)`.
    func call(
        _ input: TensorStorage, offset: Int = 0, height: Int, width: Int, stride: Int, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, outputHeight: Int, outputWidth: Int, plane: Int, rowStride: Int,
        pixelStride: Int
    ) -> Call {
        precondition(stride == 1 || stride == 2, "tile convolution: stride \(stride)")
        let (firstRow, firstColumn) = (offset / width, offset % width)
        precondition(outputHeight >= 1 && firstRow + (outputHeight - 1) * stride + kernelHeight <= height
                     && firstColumn + (outputWidth - 1) * stride + kernelWidth <= width,
                     "tile convolution: output too large for the input")
        return Call(input: input, offset: offset, height: height, width: width, stride: stride, bias: bias, y: y,
                    outputHeight: outputHeight, outputWidth: outputWidth, plane: plane, rowStride: rowStride,
                    pixelStride: pixelStride)
    }

    /// Work items of a call (tiles × output-channel blocks).
    func items(of c: Call) -> Int { Int(cx_tile16_items(Int32(outputChannels), Int32(c.outputHeight), Int32(c.outputWidth))) }

    /// Multiply-adds of one work item (for deciding when to split over the cores).
    var multiplyAddsPerItem: Int { 256 * inputChannels * kernelHeight * kernelWidth }

    /// Items `range` of a call, on the calling thread.
    func run(_ c: Call, items range: Range<Int>) {
        let (cin, kh, kw, cout) = (Int32(inputChannels), Int32(kernelHeight), Int32(kernelWidth), Int32(outputChannels))
        let (h, w, s) = (Int32(c.height), Int32(c.width), Int32(c.stride))
        let (oh, ow, ps, rs) = (Int32(c.outputHeight), Int32(c.outputWidth), Int32(c.pixelStride), Int32(c.rowStride))
        let (lo, hi) = (Int32(range.lowerBound), Int32(range.upperBound))
        if isBF16 {
            cx_bf16_tile16_conv(c.input.words + c.offset, cin, h, w, kh, kw, s, packed.words, cout, c.bias, c.y, oh, ow, c.plane,
                                rs, ps, lo, hi)
        } else {
            cx_f32_tile16_conv(c.input.pointer + c.offset, cin, h, w, kh, kw, s, packed.pointer, cout, c.bias, c.y, oh, ow,
                               c.plane, rs, ps, lo, hi)
        }
    }

    /// The whole call, split over the cores (≥ ~64k multiply-adds per core).
    func run(_ c: Call) {
        Parallel.forRanges(items(of: c), minimumChunk: max(1, 65_536 / multiplyAddsPerItem)) { range in run(c, items: range) }
    }
}
