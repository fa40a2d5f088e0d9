import CBFloat16Kernels
import CConvKernels
import Foundation
import Synchronization

/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2016).
///
/// Each 2×2 block of outputs ("tile") comes from a 4×4 block of input. With the input tile d, the
/// 3×3 kernel g and the fixed matrices B, G, A below, one output tile is
///     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
/// i.e. 16 products per tile and channel pair instead of 36 (2.25× fewer multiplications). Over
/// all channels the 16 element positions ξ become 16 independent matrix products
///     M_ξ [Cout × T] = U_ξ [Cout × Cin] · V_ξ [Cin × T]      (T = number of tiles)
/// run on OpenBLAS; the transforms before and after are cheap, memory-bound passes.
///
/// F(2,3)'s transforms only add, subtract and halve, so float32 results stay within a few ulps
/// of the im2col path (checked against it in the tests and by the op fixtures). The larger
/// F(4,3) needs constants like 1/24 and loses ~1–2 more digits; it is not used.
///
/// Shapes per image: x [Cin, H, W], weight [Cout, Cin, 3, 3], y [Cout, H + 2p − 2, W + 2p − 2].
public enum WinogradConvolution {
    /// `conv2d` uses Winograd only when both channel counts are at least this.
    public static let minimumChannels = 32

    /// `conv2d` uses Winograd only when the output has at least this many 2×2 tiles (default 64,
    /// i.e. 16×16 outputs; `CYCLEX_WINOGRAD_MIN_TILES` overrides it for benchmarking). Its 16 GEMMs
    /// have N = tiles: below that they are too short for OpenBLAS to beat one im2col GEMM with a
    /// 9× longer K. The 16 products of a layer run as 16 tasks on the worker pool (each one
    /// single-threaded), so short ones still fill every thread. Measured with one thread
    /// (2026-11-30, CPU time, alternating): the 16×16 residual blocks (256 channels) take 2.1–2.3 ms
    /// forward instead of 3.6–4.2 on im2col, their weight gradient 2.3–2.9 instead of 3.6–3.9.
    /// It was 256 under the earlier threading (each product one 2-thread OpenBLAS call), where
    /// the 16×16 blocks measured slower on Winograd.
    public static let minimumTiles: Int =
        ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD_MIN_TILES"].flatMap { Int($0) } ?? 64

    /// Replaces `minimumTiles` inside `$minimumTilesOverride.withValue(n) { … }` (tests run small
    /// images through the Winograd path this way).
    @TaskLocal public static var minimumTilesOverride: Int?

    /// Whether `conv2d` uses Winograd at all (default: yes; `CYCLEX_WINOGRAD=0` turns it off, so the
    /// benchmark can compare both paths in one binary).
    public static let isEnabled: Bool = ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD"] != "0"

    /// Whether the 16 products of small convolutions may run on cyclex's AVX-512 small-N kernel
    /// (`cx_f32_gemm_small_n`, shared with the inference forward): the CPU has AVX-512 and
    /// `CYCLEX_TRAINING_SMALL_N` is not 0. The kernel keeps one vector along the output channels,
    /// so 16 tiles (an 8 × 8 output) fill its register tile, and its weights are packed once per
    /// optimizer step (`WinogradWeightCache`); OpenBLAS repacked the whole weight for every call.
    public static let smallNIsAvailable: Bool =
        cx_avx512_supported() != 0 && ProcessInfo.processInfo.environment["CYCLEX_TRAINING_SMALL_N"] != "0"

    /// Replaces `smallNIsAvailable` inside `$smallNOverride.withValue(…) { … }` (tests compare both
    /// paths; `true` has no effect on a CPU without AVX-512).
    @TaskLocal public static var smallNOverride: Bool?

    /// Outputs with at least `smallNMinimumTiles` and at most `smallNMaximumTiles` 2×2 tiles (8 × 8
    /// to 16 × 16 pixels) take the small-N products (`CYCLEX_TRAINING_SMALL_N_MAX_TILES` overrides
    /// the maximum, for A/B). At 8 × 8 Winograd on OpenBLAS lost to im2col; at 16 × 16 (64 tiles)
    /// the small-N products beat OpenBLAS's, which repack U for every call. Measured 2026-11-30
    /// (CPU time per step, one thread, alternating, loaded machine), 32 → 64: xai small @128 in 5
    /// of 6 pairs 1–7 % less, xai standard @128 2 of 2 (0.5–3 %), cyclegan small / standard @64 not
    /// worse (0 to −5 %).
    public static let smallNMinimumTiles = 16
    public static let smallNMaximumTiles: Int =
        ProcessInfo.processInfo.environment["CYCLEX_TRAINING_SMALL_N_MAX_TILES"].flatMap { Int($0) } ?? 64

    /// Images convolved with the small-N products since the process started (tests check the path ran).
    public static var smallNConvolutions: Int { smallNCount.load(ordering: .relaxed) }
    private static let smallNCount = Atomic<Int>(0)

    /// Whether this call may use the small-N kernel.
    static var smallNInUse: Bool { hasAVX512 && (smallNOverride ?? smallNIsAvailable) }
    private static let hasAVX512 = cx_avx512_supported() != 0

    /// The 16 products' weights of w [Cout, Cin, 3, 3] packed for `cx_f32_gemm_small_n`
    /// ([16][⌈M/16⌉][K][16], M = rows of each product): `forward` for the convolution itself
    /// (product ξ = U_ξ, M = Cout, K = Cin), `rotated` for its input gradient
    /// (`convolve(rotatedTranspose:)`: product ξ = U_π(ξ)ᵀ, M = Cin, K = Cout).
    ///
    /// Both come from contiguous 16-float runs: `rotated` from the rows of U ([16][Cout][Cin]),
    /// `forward` from the rows of the rotated transform U' ([16][Cin][Cout], `transposedAndFlipped`),
    /// since U_ξ = U'_π(ξ)ᵀ (π is its own inverse). The forward products therefore read U as
    /// summed in the rotated order: the same values to float rounding.
    ///
    /// With `fusedPackingInUse`, both come from one pass each (`cx_winograd_pack_forward` over a
    /// transposed, zero-padded copy of w, `cx_winograd_pack_rotated` over w): the same transform
    /// operations on the same taps, so the same bits, without the two full transforms (one of
    /// them gathering across output channels) and the 16-float copies after them.
    public static func packSmallN(_ w: UnsafePointer<Float>, outputChannels cout: Int, inputChannels cin: Int)
        -> (forward: TensorStorage, rotated: TensorStorage)
    {
        if fusedPackingInUse { return packSmallNFused(w, outputChannels: cout, inputChannels: cin) }
        let u = TensorStorage(count: 16 * cout * cin), rotatedU = TensorStorage(count: 16 * cout * cin)
        transformWeights(w, outputChannels: cout, inputChannels: cin, transposedAndFlipped: false, into: u.pointer)
        transformWeights(w, outputChannels: cout, inputChannels: cin, transposedAndFlipped: true, into: rotatedU.pointer)
        return (packBlocks(rotatedU.pointer, rows: cout, depth: cin), packBlocks(u.pointer, rows: cin, depth: cout))
    }

    /// Whether `packSmallN` packs straight from the weights (default: yes with the C kernels;
    /// `CYCLEX_WINOGRAD_FUSED_PACKING=0` keeps the two transforms and copies, for A/B timing).
    public static let fusedPackingIsEnabled: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_WINOGRAD_FUSED_PACKING"] != "0"

    /// Replaces `fusedPackingIsEnabled` inside `$fusedPackingOverride.withValue(…) { … }` (tests).
    @TaskLocal public static var fusedPackingOverride: Bool?

    static var fusedPackingInUse: Bool { NativeKernels.inUse && (fusedPackingOverride ?? fusedPackingIsEnabled) }

    /// Whether the small-N products of training compute only the valid columns of a last column
    /// block narrower than 16 tiles (`cx_f32_gemm_small_n_columns`: the same multiply-adds in the same
    /// order, so the same bits). The input gradient of a reflect-padded 8 × 8 convolution is 10 × 10,
    /// 25 tiles: 16 + 9 columns, of which the full kernel computed 32; at 128 px 81 tiles, 5 × 16 + 1.
    /// Default on; `CYCLEX_TRAINING_SMALL_N_NARROW_TAIL=0` keeps whole blocks (A/B timing).
    public static let narrowColumnsIsEnabled: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_TRAINING_SMALL_N_NARROW_TAIL"] != "0"

    /// Replaces `narrowColumnsIsEnabled` inside `$narrowColumnsOverride.withValue(…) { … }` (tests).
    @TaskLocal public static var narrowColumnsOverride: Bool?

    static var narrowColumnsInUse: Bool { narrowColumnsOverride ?? narrowColumnsIsEnabled }

    /// Weights packed by `packSmallNFused` since the process started (tests check the path ran).
    public static var fusedPackings: Int { fusedPackingCount.load(ordering: .relaxed) }
    private static let fusedPackingCount = Atomic<Int>(0)

    /// `packSmallN` in one pass per form (see there).
    private static func packSmallNFused(_ w: UnsafePointer<Float>, outputChannels cout: Int, inputChannels cin: Int)
        -> (forward: TensorStorage, rotated: TensorStorage)
    {
        fusedPackingCount.add(1, ordering: .relaxed)
        let (coutPadded, cinPadded) = ((cout + 15) / 16 * 16, (cin + 15) / 16 * 16)
        let forwardStride = coutPadded * cin, rotatedStride = cinPadded * cout
        let forward = TensorStorage(count: 16 * forwardStride), rotated = TensorStorage(count: 16 * rotatedStride)
        // wt [cin·9][coutPadded]: w transposed, zero past the output channels.
        let wt = TensorStorage(count: 9 * cin * coutPadded)
        let pt = wt.pointer
        if coutPadded > cout { pt.update(repeating: 0, count: wt.count) }
        if hasAVX512 {
            cx_f32_transpose(w, Int32(cout), Int32(9 * cin), 9 * cin, pt, coutPadded)
        } else {
            cx_transpose_into(w, cout, 9 * cin, pt, coutPadded)
        }
        let (pf, pp) = (forward.pointer, rotated.pointer)
        Parallel.forRanges(cin + cout, minimumChunk: 16) { r in
            let forwardPart = r.clamped(to: 0..<cin), rotatedPart = r.clamped(to: cin..<(cin + cout))
            if !forwardPart.isEmpty {
                cx_winograd_pack_forward(pt, cin, coutPadded, forwardPart.lowerBound, forwardPart.upperBound, pf, forwardStride)
            }
            if !rotatedPart.isEmpty {
                cx_winograd_pack_rotated(w, cout, cin, rotatedPart.lowerBound - cin, rotatedPart.upperBound - cin,
                                         pp, rotatedStride)
            }
        }
        return (forward, rotated)
    }

    /// Product ξ's packed A from plane π(ξ) of `planes` ([16][depth][rows]): block
    /// [mb][k][0..<16] = plane[k][16·mb ..< 16·mb + 16], zero past `rows`.
    private static func packBlocks(_ planes: UnsafePointer<Float>, rows: Int, depth: Int) -> TensorStorage {
        let stride = cx_tile16_packed_count(Int32(rows), Int32(depth), 1, 1, 0)
        let packed = TensorStorage(count: 16 * stride)
        let out = packed.pointer
        Parallel.run(16) { xi in
            let target = out + xi * stride
            let source = planes + (4 * rotatedPosition[xi / 4] + rotatedPosition[xi % 4]) * rows * depth
            for mb in 0..<(rows + 15) / 16 {
                let lanes = min(16, rows - 16 * mb)
                for k in 0..<depth {
                    let to = target + (mb * depth + k) * 16
                    to.update(from: source + k * rows + 16 * mb, count: lanes)
                    if lanes < 16 { (to + lanes).update(repeating: 0, count: 16 - lanes) }
                }
            }
        }
        return packed
    }

    /// p of `convolve(rotatedTranspose:)`: the row (and column) of G g Gᵀ that a 180° rotation of g
    /// moves to each position.
    static let rotatedPosition = [3, 1, 2, 0]

    /// Tile geometry of one convolution.
    struct Tiles {
        let outHeight: Int, outWidth: Int
        var rows: Int { (outHeight + 1) / 2 }
        var columns: Int { (outWidth + 1) / 2 }
        var count: Int { rows * columns }
    }

    /// U = G g Gᵀ for every (output, input) channel pair, laid out [16][rows][columns] so that
    /// U_ξ is a row-major [rows × columns] matrix. `rows` = Cout and `columns` = Cin, or, with
    /// `transposedAndFlipped` (the kernel of the input gradient: channels swapped and the 3×3
    /// window rotated by 180°), `rows` = Cin and `columns` = Cout.
    ///   G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
    public static func transformWeights(
        _ w: UnsafePointer<Float>, outputChannels cout: Int, inputChannels cin: Int, transposedAndFlipped: Bool,
        into u: UnsafeMutablePointer<Float>
    ) {
        if NativeKernels.inUse {
            let outer = transposedAndFlipped ? cin : cout
            Parallel.forRanges(outer, minimumChunk: 16) { r in
                cx_winograd_weights(w, cout, cin, transposedAndFlipped ? 1 : 0, r.lowerBound, r.upperBound, u)
            }
            return
        }
        let (rows, columns) = transposedAndFlipped ? (cin, cout) : (cout, cin)
        let plane = rows * columns
        Parallel.forEach(cout, minimumItemsPerCore: 16) { co in
            for ci in 0..<cin {
                let src = w + (co * cin + ci) * 9
                // The kernel's 3 rows (rotated by 180° for the input gradient).
                func row(_ i: Int) -> SIMD3<Float> {
                    transposedAndFlipped
                        ? SIMD3(src[8 - 3 * i], src[7 - 3 * i], src[6 - 3 * i]) : SIMD3(src[3 * i], src[3 * i + 1], src[3 * i + 2])
                }
                let (g0, g1, g2) = (row(0), row(1), row(2))
                let offset = transposedAndFlipped ? ci * columns + co : co * columns + ci
                func emit(_ i: Int, _ t: SIMD3<Float>) {
                    u[(4 * i + 0) * plane + offset] = t[0]
                    u[(4 * i + 1) * plane + offset] = 0.5 * (t[0] + t[1] + t[2])
                    u[(4 * i + 2) * plane + offset] = 0.5 * (t[0] - t[1] + t[2])
                    u[(4 * i + 3) * plane + offset] = t[2]
                }
                // t = G g (4 rows of 3), then each row of U = G applied across that row of t.
                emit(0, g0)
                emit(1, 0.5 * (g0 + g1 + g2))
                emit(2, 0.5 * (g0 - g1 + g2))
                emit(3, g2)
            }
        }
    }

    /// V = Bᵀ d B for every input channel and tile, laid out [16][Cin][T].
    ///   Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
    /// Rows and columns outside the image read as zero (the convolution's zero padding, and the
    /// half tile past an odd output size).
    static func transformInput(
        _ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, padding p: Int, tiles: Tiles,
        into v: UnsafeMutablePointer<Float>
    ) {
        if NativeKernels.inUse {
            Parallel.forRanges(channels, minimumChunk: 1) { r in
                cx_winograd_input(x, channels, height, width, p, tiles.rows, tiles.columns, r.lowerBound, r.upperBound, v)
            }
            return
        }
        let (tileRows, tileColumns, tileCount) = (tiles.rows, tiles.columns, tiles.count)
        let bufferWidth = 2 * tileColumns + 2
        // Input columns that land inside the row buffer: buffer column c holds image column c − p.
        let firstColumn = min(p, bufferWidth), lastColumn = min(bufferWidth, p + width)
        Parallel.forEach(channels, minimumItemsPerCore: 1) { ci in
            let rowBuffer = UnsafeMutablePointer<Float>.allocate(capacity: 4 * bufferWidth)
            defer { rowBuffer.deallocate() }
            rowBuffer.initialize(repeating: 0, count: 4 * bufferWidth)
            let image = x + ci * height * width
            for ty in 0..<tileRows {
                for r in 0..<4 {
                    let row = rowBuffer + r * bufferWidth
                    let ih = 2 * ty - p + r
                    if ih < 0 || ih >= height || lastColumn <= firstColumn {
                        row.update(repeating: 0, count: bufferWidth)
                        continue
                    }
                    if firstColumn > 0 { row.update(repeating: 0, count: firstColumn) }
                    (row + firstColumn).update(from: image + ih * width + (firstColumn - p), count: lastColumn - firstColumn)
                    if lastColumn < bufferWidth { (row + lastColumn).update(repeating: 0, count: bufferWidth - lastColumn) }
                }
                let (r0, r1, r2, r3) = (rowBuffer, rowBuffer + bufferWidth, rowBuffer + 2 * bufferWidth, rowBuffer + 3 * bufferWidth)
                let base = v + ci * tileCount + ty * tileColumns
                let stride = channels * tileCount  // distance between consecutive ξ
                for tx in 0..<tileColumns {
                    let c = 2 * tx
                    // Rows first: s_r = Bᵀ applied down the 4 rows, for each of the 4 columns.
                    var s0 = SIMD4<Float>(r0[c] - r2[c], r0[c + 1] - r2[c + 1], r0[c + 2] - r2[c + 2], r0[c + 3] - r2[c + 3])
                    var s1 = SIMD4<Float>(r1[c] + r2[c], r1[c + 1] + r2[c + 1], r1[c + 2] + r2[c + 2], r1[c + 3] + r2[c + 3])
                    var s2 = SIMD4<Float>(r2[c] - r1[c], r2[c + 1] - r1[c + 1], r2[c + 2] - r1[c + 2], r2[c + 3] - r1[c + 3])
                    var s3 = SIMD4<Float>(r1[c] - r3[c], r1[c + 1] - r3[c + 1], r1[c + 2] - r3[c + 2], r1[c + 3] - r3[c + 3])
                    // Then across the columns of each: (a0 − a2, a1 + a2, a2 − a1, a1 − a3).
                    func across(_ a: SIMD4<Float>) -> SIMD4<Float> {
                        SIMD4(a[0] - a[2], a[1] + a[2], a[2] - a[1], a[1] - a[3])
                    }
                    s0 = across(s0); s1 = across(s1); s2 = across(s2); s3 = across(s3)
                    let out = base + tx
                    for j in 0..<4 {
                        out[j * stride] = s0[j]
                        out[(4 + j) * stride] = s1[j]
                        out[(8 + j) * stride] = s2[j]
                        out[(12 + j) * stride] = s3[j]
                    }
                }
            }
        }
    }

    /// Y = Aᵀ M A (+ bias) for every output channel and tile, from M laid out [16][Cout][T];
    /// writes y [Cout, outH, outW] and drops the half tile past an odd output size.
    ///   Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]
    static func transformOutput(
        _ m: UnsafePointer<Float>, channels: Int, bias: UnsafePointer<Float>?, tiles: Tiles, into y: UnsafeMutablePointer<Float>
    ) {
        if NativeKernels.inUse {
            Parallel.forRanges(channels, minimumChunk: 1) { r in
                cx_winograd_output(m, channels, bias, tiles.outHeight, tiles.outWidth, r.lowerBound, r.upperBound, y)
            }
            return
        }
        let (tileRows, tileColumns, tileCount) = (tiles.rows, tiles.columns, tiles.count)
        let (outH, outW) = (tiles.outHeight, tiles.outWidth)
        let stride = channels * tileCount
        Parallel.forEach(channels, minimumItemsPerCore: 1) { co in
            let b = bias?[co] ?? 0
            let plane = y + co * outH * outW
            for ty in 0..<tileRows {
                let src = m + co * tileCount + ty * tileColumns
                let top = plane + 2 * ty * outW
                let hasBottom = 2 * ty + 1 < outH
                for tx in 0..<tileColumns {
                    let e = src + tx
                    // Columns first: per row i of M, (m0 + m1 + m2, m1 − m2 − m3).
                    var left = SIMD4<Float>(), right = SIMD4<Float>()
                    for i in 0..<4 {
                        let (m0, m1, m2, m3) = (e[(4 * i) * stride], e[(4 * i + 1) * stride], e[(4 * i + 2) * stride], e[(4 * i + 3) * stride])
                        left[i] = m0 + m1 + m2
                        right[i] = m1 - m2 - m3
                    }
                    let ox = 2 * tx
                    top[ox] = left[0] + left[1] + left[2] + b
                    let hasRight = ox + 1 < outW
                    if hasRight { top[ox + 1] = right[0] + right[1] + right[2] + b }
                    if hasBottom {
                        top[outW + ox] = left[1] - left[2] - left[3] + b
                        if hasRight { top[outW + ox + 1] = right[1] - right[2] - right[3] + b }
                    }
                }
            }
        }
    }

    /// dM = A dY Aᵀ for every output channel and tile (the adjoint of `transformOutput`), laid out
    /// [16][Cout][T]; dY outside the output (the half tile past an odd size) reads as zero.
    ///   A = [[1, 0], [1, 1], [1, −1], [0, −1]]
    static func transformOutputGradient(
        _ gy: UnsafePointer<Float>, channels: Int, tiles: Tiles, into dm: UnsafeMutablePointer<Float>
    ) {
        if NativeKernels.inUse {
            Parallel.forRanges(channels, minimumChunk: 1) { r in
                cx_winograd_output_gradient(gy, channels, tiles.outHeight, tiles.outWidth, r.lowerBound, r.upperBound, dm)
            }
            return
        }
        let (tileRows, tileColumns, tileCount) = (tiles.rows, tiles.columns, tiles.count)
        let (outH, outW) = (tiles.outHeight, tiles.outWidth)
        let stride = channels * tileCount
        Parallel.forEach(channels, minimumItemsPerCore: 1) { co in
            let plane = gy + co * outH * outW
            for ty in 0..<tileRows {
                let top = plane + 2 * ty * outW
                let hasBottom = 2 * ty + 1 < outH
                let base = dm + co * tileCount + ty * tileColumns
                for tx in 0..<tileColumns {
                    let ox = 2 * tx, hasRight = ox + 1 < outW
                    let y00 = top[ox], y01 = hasRight ? top[ox + 1] : 0
                    let y10 = hasBottom ? top[outW + ox] : 0, y11 = hasBottom && hasRight ? top[outW + ox + 1] : 0
                    // Down the rows: p_i = Σ_a A[i][a] · row a, for the two columns.
                    let p0 = SIMD2<Float>(y00, y01), p1 = SIMD2<Float>(y00 + y10, y01 + y11)
                    let p2 = SIMD2<Float>(y00 - y10, y01 - y11), p3 = SIMD2<Float>(-y10, -y11)
                    let out = base + tx
                    // Then across: dM[i] = (p_i0, p_i0 + p_i1, p_i0 − p_i1, −p_i1).
                    func emit(_ i: Int, _ p: SIMD2<Float>) {
                        out[(4 * i) * stride] = p[0]
                        out[(4 * i + 1) * stride] = p[0] + p[1]
                        out[(4 * i + 2) * stride] = p[0] - p[1]
                        out[(4 * i + 3) * stride] = -p[1]
                    }
                    emit(0, p0); emit(1, p1); emit(2, p2); emit(3, p3)
                }
            }
        }
    }

    /// dw = Σ over the batch of the weight gradient of `convolve` (zero padding `padding`, 0…2):
    /// dU_ξ = dM_ξ · V_ξᵀ (16 GEMMs of [Cout × T]·[T × Cin]), then dw = Gᵀ dU G per channel pair.
    /// x [B, Cin, H, W], gy [B, Cout, H + 2p − 2, W + 2p − 2], dw [Cout, Cin, 3, 3] (overwritten).
    public static func weightGradient(
        gradOutput gy: UnsafePointer<Float>, input x: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>,
        batch: Int, inputChannels cin: Int, outputChannels cout: Int, height: Int, width: Int, padding: Int
    ) {
        precondition((0...2).contains(padding), "Winograd convolution: padding \(padding) is not 0, 1 or 2")
        let tiles = Tiles(outHeight: height + 2 * padding - 2, outWidth: width + 2 * padding - 2)
        let t = tiles.count
        let v = TensorStorage(count: 16 * cin * t), dm = TensorStorage(count: 16 * cout * t)
        let du = TensorStorage(count: 16 * cout * cin)
        for b in 0..<batch {
            transformInput(x + b * cin * height * width, channels: cin, height: height, width: width, padding: padding,
                           tiles: tiles, into: v.pointer)
            transformOutputGradient(gy + b * cout * tiles.outHeight * tiles.outWidth, channels: cout, tiles: tiles,
                                    into: dm.pointer)
            let (pm, pv, pu) = (dm.pointer, v.pointer, du.pointer)
            Parallel.run(16) { xi in
                BLAS.sgemm(transposeB: true, m: cout, n: cin, k: t, a: pm + xi * cout * t, lda: t,
                           b: pv + xi * cin * t, ldb: t, beta: b == 0 ? 0 : 1, c: pu + xi * cout * cin, ldc: cin)
            }
        }
        backTransformWeightGradient(du.pointer, outputChannels: cout, inputChannels: cin, into: dw)
    }

    /// dw = Gᵀ dU G per channel pair: du [16][Cout][Cin] → dw [Cout, Cin, 3, 3] (overwritten).
    static func backTransformWeightGradient(
        _ du: UnsafeMutablePointer<Float>, outputChannels cout: Int, inputChannels cin: Int,
        into dw: UnsafeMutablePointer<Float>
    ) {
        if NativeKernels.inUse {
            let pu = UnsafePointer(du)
            Parallel.forRanges(cout, minimumChunk: 16) { r in
                cx_winograd_weight_gradient(pu, cout, cin, r.lowerBound, r.upperBound, dw)
            }
            return
        }
        let plane = cout * cin, pu = du
        Parallel.forEach(cout, minimumItemsPerCore: 16) { co in
            for ci in 0..<cin {
                let offset = co * cin + ci
                // Gᵀ x for a 4-vector x: (x0 + ½x1 + ½x2, ½x1 − ½x2, ½x1 + ½x2 + x3).
                func gt(_ x: SIMD4<Float>) -> SIMD3<Float> {
                    SIMD3(x[0] + 0.5 * x[1] + 0.5 * x[2], 0.5 * x[1] - 0.5 * x[2], 0.5 * x[1] + 0.5 * x[2] + x[3])
                }
                func row(_ i: Int) -> SIMD4<Float> {
                    SIMD4(pu[(4 * i) * plane + offset], pu[(4 * i + 1) * plane + offset],
                          pu[(4 * i + 2) * plane + offset], pu[(4 * i + 3) * plane + offset])
                }
                // Across each row of dU first (· G), then down the columns (Gᵀ ·).
                let (r0, r1, r2, r3) = (gt(row(0)), gt(row(1)), gt(row(2)), gt(row(3)))
                let out = dw + offset * 9
                for j in 0..<3 {
                    let c = gt(SIMD4(r0[j], r1[j], r2[j], r3[j]))
                    out[j] = c[0]
                    out[3 + j] = c[1]
                    out[6 + j] = c[2]
                }
            }
        }
    }

    /// Whether the weight gradients of the small-N convolutions (`Tensor.usesSmallNWinograd`)
    /// also run on the small-N kernel (`smallNWeightGradient`; default: yes where the small-N
    /// kernel runs; `CYCLEX_TRAINING_SMALL_N_WGRAD=0` keeps im2col + sgemm below 64 tiles and
    /// Winograd on OpenBLAS at 64, for A/B timing in one binary).
    public static let smallNWeightGradientIsEnabled: Bool =
        ProcessInfo.processInfo.environment["CYCLEX_TRAINING_SMALL_N_WGRAD"] != "0"

    /// Replaces `smallNWeightGradientIsEnabled` inside `$smallNWeightGradientOverride.withValue(…) { … }` (tests).
    @TaskLocal public static var smallNWeightGradientOverride: Bool?

    /// Whether this call's small-N convolutions take `smallNWeightGradient` for their weight gradient.
    static var smallNWeightGradientInUse: Bool {
        smallNInUse && (smallNWeightGradientOverride ?? smallNWeightGradientIsEnabled)
    }

    /// Weight gradients computed by `smallNWeightGradient` since the process started (tests check the path ran).
    public static var smallNWeightGradients: Int { smallNWeightGradientCount.load(ordering: .relaxed) }
    private static let smallNWeightGradientCount = Atomic<Int>(0)

    /// `weightGradient` with the 16 products on the AVX-512 small-N kernel, for outputs of 16…64
    /// tiles (8 × 8 … 16 × 16). There im2col's product has K = 64…256 pixels for M = Cout,
    /// N = 9·Cin (and OpenBLAS zeroes the whole output first), and Winograd's 16 products on
    /// OpenBLAS pack both operands for K = T only. Here K runs over every image's tiles:
    ///     dU_ξ [Cout × Cin] = [dM_ξ¹ … dM_ξᴮ] · [V_ξ¹ … V_ξᴮ]ᵀ      (K = B·T),
    /// with dM_ξ packed in 16-row blocks ([⌈Cout/16⌉][K][16]) and V_ξ transposed ([K][Cin]), as the
    /// kernel reads them. One task takes a 16 × 16 block of channel pairs whole
    /// (`cx_f32_winograd_weight_gradient`): its 16 products summed in k order, dw = Gᵀ dU G in
    /// registers, and its part of dw written once, so dU never goes to memory (the separate
    /// back-transform pass cost as much as the products) and nothing is zeroed first; the same
    /// bits for any thread count. The sums run in another order than im2col's product (and
    /// OpenBLAS's): the same values to float rounding.
    /// x [B, Cin, H, W], gy [B, Cout, H + 2p − 2, W + 2p − 2], dw [Cout, Cin, 3, 3] (overwritten).
    public static func smallNWeightGradient(
        gradOutput gy: UnsafePointer<Float>, input x: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>,
        batch: Int, inputChannels cin: Int, outputChannels cout: Int, height: Int, width: Int, padding: Int
    ) {
        precondition((0...2).contains(padding), "Winograd convolution: padding \(padding) is not 0, 1 or 2")
        precondition(hasAVX512, "Winograd convolution: the small-N weight gradient needs AVX-512")
        smallNWeightGradientCount.add(1, ordering: .relaxed)
        let tiles = Tiles(outHeight: height + 2 * padding - 2, outWidth: width + 2 * padding - 2)
        let t = tiles.count, depth = batch * t, rowBlocks = (cout + 15) / 16
        let v = TensorStorage(count: 16 * cin * t), dm = TensorStorage(count: 16 * cout * t)
        let aStride = rowBlocks * depth * 16, bStride = depth * cin
        // The kernel reads whole 16-column blocks of each row of B: slack past the last row.
        let a = TensorStorage(count: 16 * aStride), bt = TensorStorage(count: 16 * bStride + 16)
        for b in 0..<batch {
            transformInput(x + b * cin * height * width, channels: cin, height: height, width: width, padding: padding,
                           tiles: tiles, into: v.pointer)
            transformOutputGradient(gy + b * cout * tiles.outHeight * tiles.outWidth, channels: cout, tiles: tiles,
                                    into: dm.pointer)
            let (pv, pm, pa, pb) = (UnsafePointer(v.pointer), UnsafePointer(dm.pointer), a.pointer, bt.pointer)
            Parallel.run(16) { xi in
                if cout % 16 == 0 {  // block rb: rows 16 rb ..< 16 rb + 16 of dM_ξ transposed into [K][16]
                    for rb in 0..<rowBlocks {
                        cx_f32_transpose(pm + (xi * cout + 16 * rb) * t, 16, Int32(t), t,
                                         pa + xi * aStride + (rb * depth + b * t) * 16, 16)
                    }
                } else {
                    cx_pack_row_blocks16(pm + xi * cout * t, cout, t, pa + xi * aStride, depth, b * t)
                }
                cx_f32_transpose(pv + xi * cin * t, Int32(cin), Int32(t), t, pb + xi * bStride + b * t * cin, cin)
            }
        }
        (bt.pointer + 16 * bStride).update(repeating: 0, count: 16)
        let items = rowBlocks * ((cin + 15) / 16)
        let (m32, n32, k32) = (Int32(cout), Int32(cin), Int32(depth))
        let (pa, pb) = (UnsafePointer(a.pointer), UnsafePointer(bt.pointer))
        Parallel.forRanges(items, minimumChunk: 1) { r in
            cx_f32_winograd_weight_gradient(m32, n32, k32, pa, aStride, pb, bStride, dw,
                                            Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// y = conv(x, w) (+ bias) with zero padding `padding` (0…2), for a batch of images
    /// x [B, Cin, H, W] → y [B, Cout, H + 2p − 2, W + 2p − 2]. `transformedWeights` is the output of
    /// `transformWeights` ([16][Cout][Cin]).
    ///
    /// With `rotatedTranspose`, the kernel applied is rot180(w)ᵀ, where `transformedWeights` is the
    /// forward transform of w [Cin, Cout, 3, 3] (laid out [16][Cin][Cout]): the input gradient of a
    /// convolution by w, from the transform its forward pass already made. Rotating g by 180°
    /// reverses the rows and columns of G g Gᵀ's outer two positions (G·J = P·G, P swapping
    /// positions 0 and 3, so G J g J Gᵀ = P U P), hence product ξ = 4a + b reads the forward
    /// product π(ξ) = 4p(a) + p(b), p = (3, 1, 2, 0), transposed. Same values as transforming
    /// rot180(w)ᵀ with `transposedAndFlipped` to float rounding (its sums run in the other order).
    ///
    /// With `smallN` (from `packSmallN`; `transformedWeights` is then ignored), the 16 products run
    /// on cyclex's AVX-512 small-N kernel instead of OpenBLAS (see `smallNIsAvailable`).
    public static func convolve(
        _ x: UnsafePointer<Float>, transformedWeights u: UnsafePointer<Float>?, rotatedTranspose: Bool = false,
        smallN: UnsafePointer<Float>? = nil,
        bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, batch: Int, inputChannels cin: Int,
        outputChannels cout: Int, height: Int, width: Int, padding: Int
    ) {
        precondition((0...2).contains(padding), "Winograd convolution: padding \(padding) is not 0, 1 or 2")
        precondition(u != nil || smallN != nil, "Winograd convolution: no weights")
        let tiles = Tiles(outHeight: height + 2 * padding - 2, outWidth: width + 2 * padding - 2)
        precondition(tiles.outHeight > 0 && tiles.outWidth > 0, "Winograd convolution: image \(height)x\(width) is smaller than 3x3")
        let t = tiles.count
        // The small-N kernel reads whole 16-column blocks of each row of V: slack past the last row.
        let v = TensorStorage(count: 16 * cin * t + 16), m = TensorStorage(count: 16 * cout * t)
        for b in 0..<batch {
            transformInput(x + b * cin * height * width, channels: cin, height: height, width: width, padding: padding,
                           tiles: tiles, into: v.pointer)
            let (pv, pm) = (v.pointer, m.pointer)
            if let smallN {
                smallNCount.add(1, ordering: .relaxed)
                let aStride = cx_tile16_packed_count(Int32(cout), Int32(cin), 1, 1, 0)
                let items = 16 * ((cout + 15) / 16) * ((t + 15) / 16)
                let (m32, n32, k32) = (Int32(cout), Int32(t), Int32(cin))
                // Each item is one 16 × 16 block of one product, computed whole: the same bits for any split.
                let narrowTail = narrowColumnsInUse
                Parallel.forRanges(items, minimumChunk: max(1, 65_536 / (256 * cin))) { r in
                    if narrowTail {
                        cx_f32_gemm_small_n_columns(m32, n32, k32, smallN, aStride, pv, n32, cin * t, pm, n32, cout * t,
                                                    Int32(r.lowerBound), Int32(r.upperBound))
                    } else {
                        cx_f32_gemm_small_n(m32, n32, k32, smallN, aStride, pv, n32, cin * t, pm, n32, cout * t,
                                            Int32(r.lowerBound), Int32(r.upperBound))
                    }
                }
                transformOutput(m.pointer, channels: cout, bias: bias, tiles: tiles,
                                into: y + b * cout * tiles.outHeight * tiles.outWidth)
                continue
            }
            let u = u!
            Parallel.run(16) { xi in
                if rotatedTranspose {
                    let source = 4 * rotatedPosition[xi / 4] + rotatedPosition[xi % 4]
                    BLAS.sgemm(transposeA: true, m: cout, n: t, k: cin, a: u + source * cout * cin, lda: cout,
                               b: pv + xi * cin * t, ldb: t, c: pm + xi * cout * t, ldc: t)
                } else {
                    BLAS.sgemm(m: cout, n: t, k: cin, a: u + xi * cout * cin, lda: cin, b: pv + xi * cin * t, ldb: t,
                               c: pm + xi * cout * t, ldc: t)
                }
            }
            transformOutput(m.pointer, channels: cout, bias: bias, tiles: tiles,
                            into: y + b * cout * tiles.outHeight * tiles.outWidth)
        }
    }
}
