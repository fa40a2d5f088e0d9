import CBFloat16Kernels
import CyclexEngine
import Foundation

/// One `Conv2d` of a generator, prepared for the inference-only forward (`InferenceGenerator`).
///
/// Compared with the training op (`Tensor.conv2d`) it records nothing, transforms its weights once
/// (Winograd's U = G g Gᵀ, or the bf16 packing) instead of at every call, builds im2col matrices in
/// bands of output rows so the column matrix stays a few MB whatever the image size, reads the
/// reflection padding of the bf16 Winograd path straight from the unpadded input, and drops the
/// bias where an instance norm follows (the norm subtracts each plane's mean, which removes a
/// per-channel constant exactly, up to float rounding).
///
/// Shapes: x [B, Cin, H, W] → [B, Cout, outH, outW] after optional reflection padding.
final class InferenceConvolution {
    let weight: Tensor, bias: Tensor?
    let inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int
    let precision: InferencePrecision

    /// The product engine of this layer (`InferenceGEMM`): OpenBLAS, AVX-512 float32 or bf16.
    let gemm: InferenceGEMM

    /// Winograd's transformed weights [16][Cout][Cin] (OpenBLAS path), made on first use.
    private var winogradWeights: TensorStorage?
    /// The same, each of the 16 matrices packed for `gemm` (own kernels).
    private var winogradPacked: TensorStorage?
    /// The weight matrix [Cout × Cin·k²] packed for `gemm` (own kernels).
    private var packedWeights: TensorStorage?

    /// Column matrices are built for bands of output rows holding at most this many floats
    /// (8 MB; `$bandFloatsOverride` lets tests force many small bands).
    static var bandFloats: Int { bandFloatsOverride ?? (1 << 21) }
    @TaskLocal static var bandFloatsOverride: Int?

    /// 3×3 stride-1 convolutions with at least this many input and output channels run by
    /// Winograd F(2×2, 3×3). Unlike training, inference uses it at every image size: there is no
    /// weight gradient to pay for, and the weights are transformed once.
    static let winogradMinimumChannels = 32

    /// Whether the float32 Winograd weights are transformed straight into the packed layout
    /// (`cx_f32_winograd_pack_a`, one pass) instead of transformed, then packed matrix by matrix
    /// (`CYCLEX_FUSED_WINOGRAD_PACK=0`, for A/B). The xAI step's first pass pays this every step
    /// (its generators' weights change between steps).
    static let fusedWinogradPacking = ProcessInfo.processInfo.environment["CYCLEX_FUSED_WINOGRAD_PACK"] != "0"

    /// Whether bf16 3×3 convolutions use Winograd (default) or bf16 im2col GEMMs
    /// (`CYCLEX_BF16_WINOGRAD=0`, for accuracy and speed comparisons).
    static let bf16Winograd = ProcessInfo.processInfo.environment["CYCLEX_BF16_WINOGRAD"] != "0"

    init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, precision: InferencePrecision) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3], "square kernels only, got \(weight.shape)")
        self.weight = weight
        self.bias = bias
        outputChannels = weight.shape[0]
        inputChannels = weight.shape[1]
        kernelSize = weight.shape[2]
        self.stride = stride
        self.padding = padding
        self.precision = precision
        gemm = InferenceGEMM.forPrecision(precision)
    }

    /// "k×k [sS] Cin→Cout", for profiles.
    var shapeDescription: String {
        "\(kernelSize)×\(kernelSize)\(stride > 1 ? " s\(stride)" : "") \(inputChannels)→\(outputChannels)"
    }

    private var usesDirect: Bool {
        outputChannels <= DirectConvolution.maximumOutputChannels && stride == 1 && padding == 0 && kernelSize > 1
    }

    /// Stride-1 unpadded k×k convolutions (k > 1) with more than 4 outputs that Winograd does not
    /// take (the 7×7 stems and the xAI head) run without a column matrix on CPUs with AVX-512:
    /// their K = Cin·k² is long against few outputs, so im2col and packing would move more memory
    /// than the products need. bf16 reads the input as "shifted pairs" (one conversion pass).
    private var usesImplicitGEMM: Bool {
        InferenceGEMM.float32 == .avx512 && stride == 1 && padding == 0 && kernelSize > 1
            && outputChannels > DirectConvolution.maximumOutputChannels
            && !(usesWinograd && (gemm != .bf16 || Self.bf16Winograd))
    }

    private var usesWinograd: Bool {
        kernelSize == 3 && stride == 1 && padding <= 1 && inputChannels >= Self.winogradMinimumChannels
            && outputChannels >= Self.winogradMinimumChannels
    }

    /// Runs the convolution on `x` reflection-padded by `reflectPadding`. With `normalizedNext`
    /// the bias is left out (an instance norm follows).
    func callAsFunction(_ x: Tensor, reflectPadding: Int = 0, normalizedNext: Bool = false) -> Tensor {
        run(x, reflectPadding: reflectPadding, bias: normalizedNext ? nil : bias, then: nil).output
    }

    /// What follows a convolution in the generators, fused into its last pass where the layer
    /// allows: instance norm, `activation`, and the sum with `residual`.
    struct Normalization {
        let activation: FusedActivation
        let residual: Tensor?
        /// v > 0 ? v : slope · v.
        var slope: Float {
            switch activation {
            case .none: 1
            case .relu: 0
            case let .leakyRelu(s): s
            }
        }
    }

    /// act(IN(conv(x))) (+ `adding`): on Winograd layers whose image fits one chunk the output
    /// transform, the norm, the activation and the sum are one pass per channel
    /// (`cx_inference_winograd_output_normalized`: one parallel region instead of three, each
    /// plane still in cache); elsewhere the convolution, then `InferenceOps`.
    func normalized(_ x: Tensor, reflectPadding: Int = 0, activation: FusedActivation, adding skip: Tensor? = nil) -> Tensor {
        let (y, done) = run(x, reflectPadding: reflectPadding, bias: nil,
                            then: Self.fusedNormalization ? Normalization(activation: activation, residual: skip) : nil)
        if !done {
            InferenceOps.instanceNormalize(y, activation: activation)
            if let skip { InferenceOps.add(y, skip) }
        }
        return y
    }

    /// `CYCLEX_FUSED_WINOGRAD_NORM=0` keeps the norm a separate pass (for comparisons).
    static let fusedNormalization = ProcessInfo.processInfo.environment["CYCLEX_FUSED_WINOGRAD_NORM"] != "0"

    /// The convolution of x reflection-padded by `reflectPadding` (+ bias), and whether
    /// `normalization` was applied too.
    private func run(_ x: Tensor, reflectPadding: Int, bias: Tensor?, then normalization: Normalization?)
        -> (output: Tensor, normalized: Bool)
    {
        precondition(x.rank == 4 && x.shape[1] == inputChannels, "conv: input \(x.shape), weight \(weight.shape)")
        let pad = reflectPadding + padding
        if (reflectPadding == 0 || padding == 0) && usesTiles(height: x.shape[2] + 2 * pad, width: x.shape[3] + 2 * pad) {
            return (tiles(x, pad: pad, reflect: reflectPadding > 0, bias: bias), false)
        }
        let ownWinograd = gemm != .openBLAS && (gemm != .bf16 || Self.bf16Winograd)
        if ownWinograd && usesWinograd && (reflectPadding == 0 || padding == 0) && reflectPadding + padding <= 1 {
            // The own Winograd input transform reads the reflection padding itself.
            return winogradPackedPath(x, pad: reflectPadding + padding, reflect: reflectPadding > 0, bias: bias,
                                      then: normalization)
        }
        let input = reflectPadding > 0 ? withoutGradient { x.padded(by: reflectPadding, mode: .reflect) } : x
        if usesDirect { return (direct(input, bias: bias), false) }
        if usesImplicitGEMM { return (implicitGEMM(input, bias: bias), false) }
        if gemm == .openBLAS && usesWinograd { return (winogradF32(input, bias: bias), false) }
        return (im2col(input, bias: bias), false)
    }

    private func outputSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + 2 * padding - kernelSize) / stride + 1, (w + 2 * padding - kernelSize) / stride + 1)
    }

    // MARK: - The 16-channel × 16-pixel tile kernel

    /// 3×3 stride-1 convolutions whose output has fewer Winograd 2×2 tiles than this run on the
    /// tile kernel directly instead of by Winograd. Default 0 (never): Winograd with the small-N
    /// products (`smallNProducts`) was faster on 8 × 8 images in the A/B of 2026-11-30 (256
    /// channels 8.6 vs 11.9–15.6 ms CPU per forward's residual blocks, 128 channels about even).
    /// `CYCLEX_TILE_MAX_WINOGRAD_TILES=N` for comparisons; tests set `$tileMaximumWinogradTilesOverride`.
    static var tileMaximumWinogradTiles: Int { tileMaximumWinogradTilesOverride ?? tileMaximumWinogradTilesSetting }
    private static let tileMaximumWinogradTilesSetting =
        ProcessInfo.processInfo.environment["CYCLEX_TILE_MAX_WINOGRAD_TILES"].flatMap { Int($0) } ?? 0
    @TaskLocal static var tileMaximumWinogradTilesOverride: Int?

    /// Whether the tile kernel (`TileConvolution`) takes this layer for a padded input of
    /// height × width: stride-2 convolutions (and 3×3 stride-1 ones below
    /// `tileMaximumWinogradTiles`), with a multiple of 16 output channels (`CYCLEX_TILE_CONV=0`
    /// turns it off, for comparisons).
    func usesTiles(height: Int, width: Int) -> Bool {
        guard gemm != .openBLAS && TileConvolution.takes(outputChannels: outputChannels) && kernelSize > 1 else {
            return false
        }
        if stride == 2 { return true }
        guard stride == 1 && kernelSize == 3 else { return false }
        let (outH, outW) = (height - 2, width - 2)
        return ((outH + 1) / 2) * ((outW + 1) / 2) < Self.tileMaximumWinogradTiles
    }

    static let tilesEnabled = ProcessInfo.processInfo.environment["CYCLEX_TILE_CONV"] != "0"

    /// The layer's weights packed for the tile kernel, made on first use.
    private var tileKernel: TileConvolution?

    private func tiles(_ x: Tensor, pad: Int, reflect: Bool, bias: Tensor?) -> Tensor {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = ((h + 2 * pad - kernelSize) / stride + 1, (w + 2 * pad - kernelSize) / stride + 1)
        if tileKernel == nil {
            tileKernel = TileConvolution(weight: weight.pointer, outputChannels: outputChannels, inputChannels: inputChannels,
                                         kernelHeight: kernelSize, kernelWidth: kernelSize, bf16: gemm == .bf16)
        }
        let kernel = tileKernel!
        let out = Tensor(uninitializedShape: [batch, outputChannels, outH, outW])
        for b in 0..<batch {
            let (buffer, ph, pw) = TileConvolution.pad(
                x.pointer + b * inputChannels * h * w, channels: inputChannels, height: h, width: w, top: pad, bottom: pad,
                left: pad, right: pad, reflect: reflect, bf16: kernel.isBF16)
            kernel.run(kernel.call(buffer, height: ph, width: pw, stride: stride, bias: bias?.pointer,
                                   into: out.pointer + b * outputChannels * outH * outW, outputHeight: outH,
                                   outputWidth: outW, plane: outH * outW, rowStride: outW, pixelStride: 1))
        }
        return out
    }

    // MARK: - Thin outputs: the direct kernel, float32

    private func direct(_ x: Tensor, bias: Tensor?) -> Tensor {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = outputSize(h, w)
        let out = Tensor(uninitializedShape: [batch, outputChannels, outH, outW])
        let plane = outH * outW
        for b in 0..<batch {
            let y = out.pointer + b * outputChannels * plane
            for co in 0..<outputChannels { (y + co * plane).update(repeating: bias?.pointer[co] ?? 0, count: plane) }
            DirectConvolution.forward(
                x: x.pointer + b * inputChannels * h * w, weight: weight.pointer, y: y, inputChannels: inputChannels,
                outputChannels: outputChannels, height: h, width: w, kernelHeight: kernelSize, kernelWidth: kernelSize)
        }
        return out
    }

    // MARK: - Implicit GEMM (no column matrix) on AVX-512

    /// Weights packed for `cx_f32_direct_conv` or `cx_bf16_direct_conv`, made on first use.
    private var implicitPacked: TensorStorage?

    private func implicitGEMM(_ x: Tensor, bias: Tensor?) -> Tensor {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = outputSize(h, w)
        let (cin, cout, k) = (inputChannels, outputChannels, kernelSize)
        let isBF16 = gemm == .bf16
        if implicitPacked == nil {
            if isBF16 {
                let packed = TensorStorage(count: (cout + 7) / 8 * 8 * cin * k * ((k + 1) / 2))
                cx_bf16_pack_direct_weights(weight.pointer, Int32(cout), Int32(cin), Int32(k), packed.words)
                implicitPacked = packed
            } else {
                implicitPacked = InferenceGEMM.avx512.packA(weight.pointer, m: cout, k: cin * k * k, lda: cin * k * k)
            }
        }
        let out = Tensor(uninitializedShape: [batch, cout, outH, outW])
        let packed = implicitPacked!.pointer
        let pairs = isBF16 ? TensorStorage(count: cin * h * w) : nil
        // At least ~64k multiply-adds per core before splitting rows.
        let perRow = max(1, cout * cin * k * k * outW)
        for b in 0..<batch {
            let xb = x.pointer + b * cin * h * w, yb = out.pointer + b * cout * outH * outW
            if let pairs {
                let pp = pairs.words
                Parallel.forRanges(cin * h, minimumChunk: max(1, 16_384 / max(1, w))) { rows in
                    cx_bf16_shift_pairs(xb, Int32(cin * h), Int32(w), pp, Int32(rows.lowerBound), Int32(rows.upperBound))
                }
                Parallel.forRanges(outH, minimumChunk: max(1, 65_536 / perRow)) { rows in
                    cx_bf16_direct_conv(pp, Int32(cin), Int32(h), Int32(w), Int32(k), InferenceGEMM.words(packed), Int32(cout),
                                        bias?.pointer, yb, Int32(rows.lowerBound), Int32(rows.upperBound))
                }
            } else {
                Parallel.forRanges(outH, minimumChunk: max(1, 65_536 / perRow)) { rows in
                    cx_f32_direct_conv(xb, Int32(cin), Int32(h), Int32(w), Int32(k), packed, Int32(cout), bias?.pointer, yb,
                                       Int32(rows.lowerBound), Int32(rows.upperBound))
                }
            }
        }
        return out
    }

    // MARK: - Winograd F(2×2, 3×3)

    /// Winograd's transform G·w·Gᵀ of every 3×3 kernel, a new [16][Cout][Cin] buffer: cached as it is
    /// by the OpenBLAS path, packed (and then dropped) by the own-kernel paths.
    private func transformedWinogradWeights() -> TensorStorage {
        let u = TensorStorage(count: 16 * outputChannels * inputChannels)
        WinogradConvolution.transformWeights(
            weight.pointer, outputChannels: outputChannels, inputChannels: inputChannels,
            transposedAndFlipped: false, into: u.pointer)
        return u
    }

    private func winogradF32(_ x: Tensor, bias: Tensor?) -> Tensor {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = outputSize(h, w)
        if winogradWeights == nil { winogradWeights = transformedWinogradWeights() }
        let out = Tensor(uninitializedShape: [batch, outputChannels, outH, outW])
        WinogradConvolution.convolve(
            x.pointer, transformedWeights: winogradWeights!.pointer, bias: bias?.pointer, into: out.pointer, batch: batch,
            inputChannels: inputChannels, outputChannels: outputChannels, height: h, width: w, padding: padding)
        return out
    }

    private func winogradPackedPath(_ x: Tensor, pad: Int, reflect: Bool, bias: Tensor?, then normalization: Normalization?)
        -> (Tensor, Bool)
    {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        if usesSmallImageWinograd(height: h, width: w, pad: pad) {
            return winogradSmallImage(x, pad: pad, reflect: reflect, bias: bias, then: normalization)
        }
        let (cin, cout) = (inputChannels, outputChannels)
        let (outH, outW) = (h + 2 * pad - 2, w + 2 * pad - 2)
        let aCount = gemm.packedACount(m: cout, k: cin)
        if winogradPacked == nil {
            let packed = TensorStorage(count: 16 * aCount)
            if gemm == .avx512 && Self.fusedWinogradPacking {
                // Transform and pack in one pass (the same values as below, bit for bit).
                let (w, blocks) = (weight.pointer, (cout + 7) / 8)
                Parallel.forRanges(blocks, minimumChunk: 8) { r in
                    cx_f32_winograd_pack_a(w, Int32(cout), Int32(cin), Int32(r.lowerBound), Int32(r.upperBound), packed.pointer)
                }
            } else {
                let u = transformedWinogradWeights()
                for xi in 0..<16 {
                    let one = gemm.packA(u.pointer + xi * cout * cin, m: cout, k: cin, lda: cin)
                    (packed.pointer + xi * aCount).update(from: one.pointer, count: aCount)
                }
            }
            winogradPacked = packed
        }
        // Tile rows are processed in chunks whose V and M fit in `bandFloats`: the scratch memory
        // stays a few MB whatever the image size, and each chunk's products read V from cache.
        let (tileRows, tileColumns) = ((outH + 1) / 2, (outW + 1) / 2)
        let chunkRows = max(1, min(tileRows, Self.bandFloats / max(1, 16 * (cin + cout) * tileColumns)))
        // Narrow images (`cwinograd_small.h`) space the 16 matrices of V and M one cache line
        // further apart than their size: their sizes are often powers of two, and 16 matrices a
        // power of two apart share cache sets.
        let narrow = Self.narrowWinograd && cx_winograd_narrow_fits(Int32(h), Int32(w), Int32(pad)) != 0
        let slack = narrow ? 16 : 0
        let v = TensorStorage(count: 16 * (gemm.packedBCount(k: cin, n: chunkRows * tileColumns) + 2 * slack))
        let m = TensorStorage(count: 16 * (cout * chunkRows * tileColumns + slack))
        let out = Tensor(uninitializedShape: [batch, cout, outH, outW])
        if let residual = normalization?.residual {
            precondition(residual.count == out.count, "residual \(residual.shape) for output \(out.shape)")
        }
        // Normalised in the output pass (whole image in one chunk, every image of the batch).
        var fused = false
        let (pu, pv, pm) = (winogradPacked!.pointer, v.pointer, m.pointer)
        let (engine, isBF16) = (gemm, gemm == .bf16)
        for b in 0..<batch {
            let xb = x.pointer + b * cin * h * w
            let yb = out.pointer + b * cout * outH * outW
            var top = 0
            while top < tileRows {
                let (ty0, ty1) = (Int32(top), Int32(min(tileRows, top + chunkRows)))
                let tiles = Int(ty1 - ty0) * tileColumns, panels = (tiles + 31) / 32
                let bCount = engine.packedBCount(k: cin, n: tiles)
                let (bStride, mStride) = (bCount + 2 * slack, cout * tiles + slack)
                // Transforms are split over the cores only when each core gets ≥ ~4k tiles of
                // work: below that, waking a thread costs more than it saves.
                let split = max(1, 4096 / tiles)
                if narrow {
                    narrowInput(xb, height: h, width: w, pad: pad, reflect: reflect, tileRows: ty0..<ty1, v: pv, stride: bStride,
                                split: split)
                } else if isBF16 {
                    // Channel pairs are transformed together.
                    Parallel.forRanges((cin + 1) / 2, minimumChunk: split) { pairs in
                        cx_inference_winograd_input_bf16(xb, Int32(cin), Int32(h), Int32(w), Int32(pad), reflect ? 1 : 0, ty0, ty1,
                                               InferenceGEMM.words(pv), Int32(2 * pairs.lowerBound),
                                               Int32(min(cin, 2 * pairs.upperBound)))
                    }
                } else {
                    Parallel.forRanges(cin, minimumChunk: split) { channels in
                        cx_inference_winograd_input_f32(xb, Int32(cin), Int32(h), Int32(w), Int32(pad), reflect ? 1 : 0, ty0, ty1, pv,
                                              Int32(channels.lowerBound), Int32(channels.upperBound))
                    }
                }
                if tiles <= 32 && usesSmallNProducts {
                    // One panel, partly empty: the products with the vector along Cout instead.
                    smallNProducts(tiles: tiles, v: pv, ldb: 32, bStride: bStride, m: pm, ldc: tiles, cStride: mStride)
                } else {
                // The 16 products M_ξ = U_ξ · V_ξ, split over the cores by (ξ, panel).
                Parallel.forRanges(16 * panels, minimumChunk: 1) { items in
                    for item in items {
                        let (xi, q) = (item / panels, item % panels)
                        engine.multiplyPacked(m: cout, n: tiles, k: cin, packedA: pu + xi * aCount, packedB: pv + xi * bStride,
                                              c: pm + xi * mStride, ldc: tiles, bias: nil, panels: q..<(q + 1),
                                              split: false)
                    }
                }
                }
                if narrow {
                    let whole = normalization != nil && top == 0 && Int(ty1) == tileRows
                    let residual = whole ? normalization?.residual.map { $0.pointer + b * cout * outH * outW } : nil
                    let (slope, biasPointer) = (normalization?.slope ?? 1, whole ? nil : bias?.pointer)
                    Parallel.forRanges(cout, minimumChunk: max(1, 8_192 / max(1, Int(ty1 - ty0) * 2 * outW))) { channels in
                        cx_winograd_narrow_output(pm, mStride, Int32(cout), Int32(outH), Int32(outW), ty0, ty1, biasPointer,
                                                  whole ? 1 : 0, slope, residual, 1e-5, yb, Int32(channels.lowerBound),
                                                  Int32(channels.upperBound))
                    }
                    fused = whole
                } else if let normalization, top == 0 && Int(ty1) == tileRows {
                    let residual = normalization.residual.map { $0.pointer + b * cout * outH * outW }
                    let slope = normalization.slope
                    Parallel.forRanges(cout, minimumChunk: max(1, 8_192 / max(1, outH * outW))) { channels in
                        cx_inference_winograd_output_normalized(pm, Int32(cout), Int32(outH), Int32(outW), yb, slope, residual,
                                                                1e-5, Int32(channels.lowerBound), Int32(channels.upperBound))
                    }
                    fused = true
                } else {
                    Parallel.forRanges(cout, minimumChunk: split) { channels in
                        cx_inference_winograd_output(pm, Int32(cout), Int32(outH), Int32(outW), ty0, ty1, bias?.pointer, yb,
                                           Int32(channels.lowerBound), Int32(channels.upperBound))
                    }
                }
                top = Int(ty1)
            }
        }
        return (out, fused)
    }

    /// Whether inputs at most 16 pixels wide with at most 8 tile columns take the narrow-image
    /// transforms of `cwinograd_small.h` (`CYCLEX_WINOGRAD_NARROW=0`: the row-buffer transforms,
    /// for comparisons; both give the same bits).
    static var narrowWinograd: Bool { narrowWinogradOverride ?? narrowWinogradSetting }
    private static let narrowWinogradSetting = ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD_NARROW"] != "0"
    @TaskLocal static var narrowWinogradOverride: Bool?

    /// Whether a Winograd layer's input of height × width, padded by `pad`, takes the narrow-image
    /// transforms (and is not small enough for `winogradSmallImage`).
    func usesNarrowWinograd(height: Int, width: Int, pad: Int) -> Bool {
        usesWinograd && gemm != .openBLAS && Self.narrowWinograd && !usesSmallImageWinograd(height: height, width: width, pad: pad)
            && cx_winograd_narrow_fits(Int32(height), Int32(width), Int32(pad)) != 0
    }

    /// The narrow-image input transform of tile rows `tileRows` of one image x [Cin, H, W] into
    /// the packed V (matrices `stride` words apart), split over the channels (pairs for bf16) in
    /// chunks of at least `split`.
    private func narrowInput(_ xb: UnsafeMutablePointer<Float>, height h: Int, width w: Int, pad: Int, reflect: Bool,
                             tileRows: Range<Int32>, v: UnsafeMutablePointer<Float>, stride: Int, split: Int) {
        let cin = inputChannels
        let (ty0, ty1, r) = (tileRows.lowerBound, tileRows.upperBound, Int32(reflect ? 1 : 0))
        if gemm == .bf16 {
            Parallel.forRanges((cin + 1) / 2, minimumChunk: split) { pairs in
                cx_bf16_winograd_narrow_input(xb, Int32(cin), Int32(h), Int32(w), Int32(pad), r, ty0, ty1, InferenceGEMM.words(v),
                                              stride, Int32(2 * pairs.lowerBound), Int32(min(cin, 2 * pairs.upperBound)))
            }
        } else {
            Parallel.forRanges(cin, minimumChunk: split) { channels in
                cx_f32_winograd_narrow_input(xb, Int32(cin), Int32(h), Int32(w), Int32(pad), r, ty0, ty1, v, stride,
                                             Int32(channels.lowerBound), Int32(channels.upperBound))
            }
        }
    }

    /// Winograd chunks of at most 32 tiles (one packed panel: images up to about 8 × 16) run their
    /// 16 products on the tile kernel's small-N GEMM (`cx_f32_gemm_small_n`): the vector runs
    /// along the output channels, so 16 tiles fill a whole register tile where the panel kernel
    /// would leave half of its 32 columns empty (`CYCLEX_WINOGRAD_SMALL_N=0` turns it off).
    private var usesSmallNProducts: Bool {
        Self.smallNEnabled && TileConvolution.takes(outputChannels: outputChannels)
    }

    static let smallNEnabled = ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD_SMALL_N"] != "0"

    /// U_ξ packed for the small-N products ([16][tile16 packing of U_ξ]), made on first use.
    private var winogradSmallN: TensorStorage?

    /// M_ξ [Cout × tiles] = U_ξ · V_ξ for ξ = 0..<16: V_ξ at v + ξ·bStride with rows (input
    /// channels, or bf16 channel pairs) `ldb` words apart, e.g. the first (only) panel of the packed
    /// input transform (ldb 32); M_ξ's rows (output channels) `ldc` floats apart, M_ξ at m + ξ·cStride.
    private func smallNProducts(tiles: Int, v: UnsafeMutablePointer<Float>, ldb: Int, bStride: Int,
                                m: UnsafeMutablePointer<Float>, ldc: Int, cStride: Int) {
        let (cin, cout) = (inputChannels, outputChannels)
        let isBF16 = gemm == .bf16
        let aStride = cx_tile16_packed_count(Int32(cout), Int32(cin), 1, 1, isBF16 ? 1 : 0)
        if winogradSmallN == nil {
            let u = transformedWinogradWeights()
            let packed = TensorStorage(count: 16 * aStride)
            for xi in 0..<16 {
                if isBF16 {
                    cx_bf16_tile16_pack_weights(u.pointer + xi * cout * cin, Int32(cout), Int32(cin), 1, 1,
                                                packed.words + xi * aStride)
                } else {
                    cx_f32_tile16_pack_weights(u.pointer + xi * cout * cin, Int32(cout), Int32(cin), 1, 1,
                                               packed.pointer + xi * aStride)
                }
            }
            winogradSmallN = packed
        }
        let packed = winogradSmallN!
        let items = 16 * ((cout + 15) / 16) * ((tiles + 15) / 16)
        let (m32, n32, k32) = (Int32(cout), Int32(tiles), Int32(cin))
        // ≥ ~64k multiply-adds per core before splitting.
        Parallel.forRanges(items, minimumChunk: max(1, 65_536 / (256 * cin))) { range in
            let (lo, hi) = (Int32(range.lowerBound), Int32(range.upperBound))
            if isBF16 {
                cx_bf16_gemm_small_n(m32, n32, k32, packed.words, aStride, InferenceGEMM.words(v), Int32(ldb), bStride, m,
                                     Int32(ldc), cStride, lo, hi)
            } else {
                cx_f32_gemm_small_n(m32, n32, k32, packed.pointer, aStride, v, Int32(ldb), bStride, m, Int32(ldc), cStride,
                                    lo, hi)
            }
        }
    }

    /// Whether images of at most 64 pixels with at most 16 output tiles (the 8 × 8 residual blocks
    /// of xAI-CycleGAN at 64 px) take `winogradSmallImage` (`CYCLEX_WINOGRAD_SMALL_IMAGE=0`: the
    /// row-buffer transforms of the general path, for comparisons; both give the same bits).
    static var smallImageWinograd: Bool { smallImageWinogradOverride ?? smallImageWinogradSetting }
    private static let smallImageWinogradSetting = ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD_SMALL_IMAGE"] != "0"
    @TaskLocal static var smallImageWinogradOverride: Bool?

    /// Whether a Winograd layer's input of height × width, padded by `pad`, takes `winogradSmallImage`.
    func usesSmallImageWinograd(height: Int, width: Int, pad: Int) -> Bool {
        usesWinograd && usesSmallNProducts && Self.smallImageWinograd
            && cx_winograd_small_fits(Int32(height), Int32(width), Int32(pad)) != 0
    }

    /// Winograd on an image whose plane fits in four vector registers (`cwinograd_small.h`): the
    /// input transform picks every tile value out of registers, the 16 products run on the small-N
    /// kernel with V rows of 16 and M grouped by output channel ([Cout][16][16]), and the output
    /// transform, the norm, the activation and the residual sum are one pass per channel that never
    /// leaves the registers. The transforms are a few µs per layer, so only the products are split
    /// over the cores (one parallel region per convolution).
    private func winogradSmallImage(_ x: Tensor, pad: Int, reflect: Bool, bias: Tensor?, then normalization: Normalization?)
        -> (Tensor, Bool)
    {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (cin, cout) = (inputChannels, outputChannels)
        let (outH, outW) = (h + 2 * pad - 2, w + 2 * pad - 2)
        let tiles = ((outH + 1) / 2) * ((outW + 1) / 2)
        let isBF16 = gemm == .bf16
        // One V_ξ: a row of 16 per input channel (pair); one more row between matrices so that the
        // 16 matrices do not sit a power of two apart (they would share cache sets).
        let vStride = ((isBF16 ? (cin + 1) / 2 : cin) + 1) * 16
        let v = TensorStorage(count: 16 * vStride)
        let m = TensorStorage(count: cout * 256)
        let out = Tensor(uninitializedShape: [batch, cout, outH, outW])
        if let residual = normalization?.residual {
            precondition(residual.count == out.count, "residual \(residual.shape) for output \(out.shape)")
        }
        let plane = outH * outW
        for b in 0..<batch {
            let xb = x.pointer + b * cin * h * w, yb = out.pointer + b * cout * plane
            if isBF16 {
                cx_bf16_winograd_small_input(xb, Int32(cin), Int32(h), Int32(w), Int32(pad), reflect ? 1 : 0, v.words,
                                             vStride, 0, Int32(cin))
            } else {
                cx_f32_winograd_small_input(xb, Int32(cin), Int32(h), Int32(w), Int32(pad), reflect ? 1 : 0, v.pointer,
                                            vStride, 0, Int32(cin))
            }
            smallNProducts(tiles: tiles, v: v.pointer, ldb: 16, bStride: vStride, m: m.pointer, ldc: 256, cStride: 16)
            if let normalization {
                cx_winograd_small_output(m.pointer, Int32(cout), Int32(outH), Int32(outW), nil, 1, normalization.slope,
                                         normalization.residual.map { $0.pointer + b * cout * plane }, 1e-5, yb, 0,
                                         Int32(cout))
            } else {
                cx_winograd_small_output(m.pointer, Int32(cout), Int32(outH), Int32(outW), bias?.pointer, 0, 1, nil, 0, yb, 0,
                                         Int32(cout))
            }
        }
        return (out, normalization != nil)
    }

    // MARK: - im2col + GEMM (`gemm`: OpenBLAS, or the own float32 / bf16 kernels)

    private func im2col(_ x: Tensor, bias: Tensor?) -> Tensor {
        let (batch, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = outputSize(h, w)
        let (cin, cout, k) = (inputChannels, outputChannels, kernelSize)
        let patch = cin * k * k, plane = outH * outW
        let out = Tensor(uninitializedShape: [batch, cout, outH, outW])
        let isPointwise = k == 1 && stride == 1 && padding == 0
        let bandRows = isPointwise ? outH : max(1, min(outH, Self.bandFloats / max(1, patch * outW)))
        let cols = isPointwise ? nil : TensorStorage(count: patch * bandRows * outW)
        let ownKernel = gemm != .openBLAS
        if ownKernel && packedWeights == nil { packedWeights = gemm.packA(weight.pointer, m: cout, k: patch, lda: patch) }
        let packedColumns = ownKernel ? TensorStorage(count: gemm.packedBCount(k: patch, n: bandRows * outW)) : nil
        for b in 0..<batch {
            let xb = x.pointer + b * cin * h * w, yb = out.pointer + b * cout * plane
            var top = 0
            while top < outH {
                let rows = min(bandRows, outH - top), n = rows * outW
                if let cols {
                    Self.bandColumns(xb, channels: cin, height: h, width: w, kernel: k, stride: stride, padding: padding,
                                     top: top, rows: rows, outputWidth: outW, into: cols.pointer)
                }
                let columns = isPointwise ? UnsafePointer(xb) : UnsafePointer(cols!.pointer)
                let y = yb + top * outW
                if let packedColumns {
                    gemm.multiply(m: cout, n: n, k: patch, packedA: packedWeights!, b: columns, scratch: packedColumns,
                                  c: y, ldc: plane, bias: bias?.pointer)
                } else {
                    if let bias {
                        for co in 0..<cout { (y + co * plane).update(repeating: bias.pointer[co], count: n) }
                    }
                    BLAS.sgemm(m: cout, n: n, k: patch, a: weight.pointer, lda: patch, b: columns, ldb: n,
                               beta: bias == nil ? 0 : 1, c: y, ldc: plane)
                }
                top += rows
            }
        }
        return out
    }

    /// The column matrix [Cin·k² × rows·outW] of output rows top..<top+rows of a k×k convolution
    /// of x [Cin, H, W] with `stride` and zero `padding` (im2col for one band of output rows).
    /// Stride 1 copies contiguous row segments. Parallel over the matrix rows.
    static func bandColumns(
        _ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kernel k: Int, stride s: Int, padding p: Int,
        top: Int, rows: Int, outputWidth outW: Int, into cols: UnsafeMutablePointer<Float>
    ) {
        let n = rows * outW
        Parallel.forRanges(channels * k * k, minimumChunk: max(1, 32_768 / max(n, 1))) { range in
            for r in range {
                let (c, ki, kj) = (r / (k * k), (r / k) % k, r % k)
                let image = x + c * height * width
                // Output columns whose input column lies inside the image: lo..<hi.
                let lo = min(outW, max(0, (p - kj + s - 1) / s)), hi = max(lo, min(outW, (width + p - kj + s - 1) / s))
                for oh in 0..<rows {
                    let d = cols + r * n + oh * outW
                    let ih = (top + oh) * s - p + ki
                    if ih < 0 || ih >= height { d.update(repeating: 0, count: outW); continue }
                    let src = image + ih * width
                    if lo > 0 { d.update(repeating: 0, count: lo) }
                    if s == 1 {
                        if hi > lo { (d + lo).update(from: src + (lo - p + kj), count: hi - lo) }
                    } else {
                        for ow in lo..<hi { d[ow] = src[ow &* s &- p &+ kj] }
                    }
                    if hi < outW { (d + hi).update(repeating: 0, count: outW - hi) }
                }
            }
        }
    }
}
