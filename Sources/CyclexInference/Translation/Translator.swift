import CyclexEngine
import CyclexImaging
import Foundation

/// Translates whole images of any size with one generator, keeping their width and height.
///
/// Fully convolutional inference: the image is reflection-padded at its bottom and right to a
/// multiple of the network's stride (at least `2·stride`, so the residual blocks' reflection
/// padding works), translated, and cropped back to the exact size. Images larger than `tileSize` on either side are cut into overlapping tiles
/// whose outputs are blended with linear ramps across each overlap, one strip of tiles at a time,
/// so memory holds at most two tile rows of float activations whatever the image size.
///
/// Instance normalisation uses per-tile statistics, so a tiled result is close to, but not
/// bit-identical with, the whole-image result (see docs/translate.md). For xai-cyclegan the fixed
/// inference mask (`XAICycleGANGenerators.inferenceMask`) is drawn from the configuration's seed for each tensor
/// shape the generator sees, so a given image, size and tile setting always gives the same pixels.
///
/// Runs the network on the calling thread; use one translator from one thread.
public final class Translator {
    /// Inputs to the network must be multiples of this (4 for CycleGAN, 8 for xAI-CycleGAN).
    public let stride: Int
    /// Channels the network reads and writes (3 for RGB models).
    public let channels: Int
    /// Tile side in pixels (rounded down to a multiple of `stride`); 0 translates every image whole.
    public let tileSize: Int
    /// Minimum overlap between neighbouring tiles (rounded up to a multiple of `stride`).
    public let tileOverlap: Int
    private let network: (Tensor) -> Tensor

    /// - Parameters:
    ///   - network: maps `[1, channels, h, w]` in [−1, 1] to the same shape, `h` and `w` multiples of `stride`.
    public init(stride: Int, channels: Int, tileSize: Int = 512, tileOverlap: Int = 32,
                network: @escaping (Tensor) -> Tensor) {
        precondition(stride >= 1 && channels >= 1 && tileSize >= 0 && tileOverlap >= 0)
        self.stride = stride
        self.channels = channels
        let overlap = (tileOverlap + stride - 1) / stride * stride
        if tileSize > 0 {
            // A tile must hold two overlaps plus something in between, and be a stride multiple.
            let minimum = max(2 * overlap + 2 * stride, 4 * stride)
            self.tileSize = max(minimum, tileSize / stride * stride)
        } else {
            self.tileSize = 0
        }
        self.tileOverlap = overlap
        self.network = network
    }

    /// A translator for one direction of a model's generators (e.g. from `GeneratorCheckpoint.load`),
    /// running the inference-only forward (`InferenceGenerator`) in float32.
    public convenience init(generators: any GeneratorPair, direction: TranslationDirection,
                            tileSize: Int = 512, tileOverlap: Int = 32) {
        // float32 runs on every CPU, so building its forward cannot fail.
        try! self.init(generators: generators, direction: direction, precision: .f32, tileSize: tileSize,
                       tileOverlap: tileOverlap)
    }

    /// A translator for one direction of a model's generators at `precision` (docs/translate.md#precision).
    /// Throws `PrecisionUnavailableError` for `.bf16` on a CPU without AVX512_BF16.
    public convenience init(generators: any GeneratorPair, direction: TranslationDirection, precision: InferencePrecision,
                            tileSize: Int = 512, tileOverlap: Int = 32) throws {
        let c = generators.configuration
        let forward = try InferenceGenerator(generators: generators, direction: direction, precision: precision)
        self.init(stride: c.stride, channels: c.channels, tileSize: tileSize, tileOverlap: tileOverlap) { x in forward(x) }
    }

    // MARK: - Tensors

    /// `[1, C, H, W]` in [−1, 1] → `[1, C, H, W]`, tiled when larger than `tileSize`.
    public func translate(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4 && input.shape[0] == 1 && input.shape[1] == channels,
                     "translate needs [1, \(channels), H, W], got \(input.shape)")
        let (h, w) = (input.shape[2], input.shape[3])
        let output = Tensor(uninitializedShape: [1, channels, h, w])
        let dst = output.pointer
        translateRegions(height: h, width: w) { x, y, tw, th in
            Self.crop(input, x: x, y: y, width: tw, height: th)
        } emit: { y0, rows, values in
            for c in 0..<self.channels {
                (dst + (c * h + y0) * w).update(from: values.baseAddress! + c * rows * w, count: rows * w)
            }
        }
        return output
    }

    /// Pads `input` ([1, C, h, w], any h and w) to the stride, runs the network once and crops back.
    public func runPadded(_ input: Tensor) -> Tensor {
        let (h, w) = (input.shape[2], input.shape[3])
        let (top, bottom) = Self.padding(for: h, stride: stride)
        let (left, right) = Self.padding(for: w, stride: stride)
        if top == 0 && bottom == 0 && left == 0 && right == 0 { return withoutGradient { network(input) } }
        let out = withoutGradient {
            network(input.padded(top: top, bottom: bottom, left: left, right: right, mode: .reflect))
        }
        return Self.crop(out, x: left, y: top, width: w, height: h)
    }

    /// Padding (before, after) that brings `length` to a multiple of `stride`, at least `2·stride`.
    /// All of it goes after the image (bottom or right), so the network's sampling grid starts at
    /// the image's first pixel whether an image is translated whole or in tiles: a stride-4
    /// network shifted by 2 pixels computes a visibly different function.
    public static func padding(for length: Int, stride: Int) -> (Int, Int) {
        let target = max(2 * stride, (length + stride - 1) / stride * stride)
        return (0, target - length)
    }

    /// The tiles along one axis: a single range when `length <= tile` (or `tile == 0`), else
    /// `n = ceil((length − overlap) / (tile − overlap))` tiles of side `tile`, evenly spread, each
    /// starting at a multiple of `stride` (so all tiles share one sampling grid); the last one
    /// runs to `length` and so may be up to `stride − 1` pixels longer. Neighbours overlap by at
    /// least `overlap` when `tile` and `overlap` are multiples of `stride`.
    public static func tileRanges(length: Int, tile: Int, overlap: Int, stride: Int = 1) -> [Range<Int>] {
        guard tile > 0, length > tile else { return [0..<length] }
        let n = (length - overlap + (tile - overlap) - 1) / (tile - overlap)
        let ranges = (0..<n).map { i in
            let ideal = (i * (length - tile) + (n - 1) / 2) / (n - 1)
            let start = i == n - 1 ? (length - tile) / stride * stride : ideal / stride * stride
            return start..<(i == n - 1 ? length : start + tile)
        }
        // Alignment can give two tiles the same start (length just over `tile`): keep the longer.
        return ranges.indices.filter { $0 == n - 1 || ranges[$0].lowerBound != ranges[$0 + 1].lowerBound }.map { ranges[$0] }
    }

    /// Blending weights of tile `i` of `ranges` at each of its positions: a linear ramp across
    /// the overlap with each neighbour, 1 elsewhere; always > 0.
    static func rampWeights(_ ranges: [Range<Int>], _ i: Int) -> [Float] {
        let r = ranges[i]
        let left = i > 0 ? ranges[i - 1].upperBound - r.lowerBound : 0
        let right = i + 1 < ranges.count ? r.upperBound - ranges[i + 1].lowerBound : 0
        return r.map { x in
            var weight: Float = 1
            if left > 0 { weight *= min(1, (Float(x - r.lowerBound) + 0.5) / Float(left)) }
            if right > 0 { weight *= min(1, (Float(r.upperBound - x) - 0.5) / Float(right)) }
            return weight
        }
    }

    /// The engine behind both `translate` methods. `source(x, y, w, h)` returns that region of
    /// the input as `[1, C, h, w]`; `emit(y0, rows, values)` receives finished output rows
    /// `y0..<y0+rows` as CHW floats (C × rows × width), top to bottom, each row exactly once.
    func translateRegions(height: Int, width: Int, source: (Int, Int, Int, Int) -> Tensor,
                          emit: (Int, Int, UnsafeBufferPointer<Float>) -> Void) {
        let rowsOfTiles = Self.tileRanges(length: height, tile: tileSize, overlap: tileOverlap, stride: stride)
        let columns = Self.tileRanges(length: width, tile: tileSize, overlap: tileOverlap, stride: stride)
        if rowsOfTiles.count == 1 && columns.count == 1 {
            let out = runPadded(source(0, 0, width, height))
            emit(0, height, UnsafeBufferPointer(start: out.pointer, count: out.count))
            return
        }
        let c = channels
        let columnWeights = columns.indices.map { Self.rampWeights(columns, $0) }
        // Accumulators for rows accTop..<accTop+capacity: weighted sums and weight totals.
        let capacity = min(height, tileSize + stride)
        var sums = [Float](repeating: 0, count: c * capacity * width)
        var weights = [Float](repeating: 0, count: capacity * width)
        var accTop = 0
        for (r, rows) in rowsOfTiles.enumerated() {
            precondition(rows.upperBound - accTop <= capacity, "tile strip exceeds its buffer")
            let rowWeights = Self.rampWeights(rowsOfTiles, r)
            for (k, cols) in columns.enumerated() {
                let out = runPadded(source(cols.lowerBound, rows.lowerBound, cols.count, rows.count))
                let (th, tw) = (rows.count, cols.count)
                let o = out.pointer
                let cw = columnWeights[k]
                sums.withUnsafeMutableBufferPointer { s in
                    weights.withUnsafeMutableBufferPointer { wt in
                        for y in 0..<th {
                            let accRow = rows.lowerBound + y - accTop
                            let wy = rowWeights[y]
                            for x in 0..<tw {
                                let weight = wy * cw[x]
                                let a = accRow * width + cols.lowerBound + x
                                wt[a] += weight
                                for ch in 0..<c {
                                    s[ch * capacity * width + a] += weight * o[(ch * th + y) * tw + x]
                                }
                            }
                        }
                    }
                }
            }
            // Rows above the next strip are final.
            let flushEnd = r + 1 < rowsOfTiles.count ? rowsOfTiles[r + 1].lowerBound : height
            let n = flushEnd - accTop
            guard n > 0 else { continue }
            var block = [Float](repeating: 0, count: c * n * width)
            for ch in 0..<c {
                for i in 0..<(n * width) { block[(ch * n * width) + i] = sums[ch * capacity * width + i] / weights[i] }
            }
            block.withUnsafeBufferPointer { emit(accTop, n, $0) }
            // Move the unfinished rows to the top of the buffers.
            let keep = capacity - n
            for ch in 0..<c {
                let base = ch * capacity * width
                for i in 0..<(keep * width) { sums[base + i] = sums[base + n * width + i] }
                for i in (keep * width)..<(capacity * width) { sums[base + i] = 0 }
            }
            for i in 0..<(keep * width) { weights[i] = weights[n * width + i] }
            for i in (keep * width)..<(capacity * width) { weights[i] = 0 }
            accTop = flushEnd
        }
    }

    // MARK: - Images

    /// Translates an image at its own size.
    ///
    /// The network sees the image as `tensor(channels: self.channels)` (gray replicated to RGB,
    /// alpha composited on white). The result has `outputChannels` channels (default: 1 when the
    /// input is gray or gray + alpha, else the network's; alpha is not restored) and
    /// `outputBitDepth` bits (default: the input's), by `Image.storeSamples` (8 bits: CycleGAN's
    /// `tensor2im` rule, `(x + 1) / 2 · 255` truncated; 16 bits: `(x + 1) / 2 · 65535` rounded).
    public func translate(_ image: Image, outputChannels: Int? = nil, outputBitDepth: Int? = nil) -> Image {
        let (h, w, c) = (image.height, image.width, channels)
        let depth = outputBitDepth ?? image.bitDepth
        let wantChannels = outputChannels ?? (image.channels <= 2 ? 1 : c)
        let whole = tileSize == 0 || (image.width <= tileSize && image.height <= tileSize)
        let prepared = whole ? image.tensor(channels: c) : nil
        var out8 = depth == 8 ? [UInt8](repeating: 0, count: h * w * c) : []
        var out16 = depth == 16 ? [UInt16](repeating: 0, count: h * w * c) : []
        translateRegions(height: h, width: w) { x, y, tw, th in
            if let prepared { return Self.crop(prepared, x: x, y: y, width: tw, height: th) }
            return image.cropped(x: x, y: y, width: tw, height: th).tensor(channels: c)
        } emit: { y0, _, values in
            // The samples rule lives in CyclexImaging (`Image.storeSamples`).
            if depth == 8 {
                out8.withUnsafeMutableBufferPointer { Image.storeSamples(fromCHW: values, channels: c, into: $0, atPixel: y0 * w) }
            } else {
                out16.withUnsafeMutableBufferPointer { Image.storeSamples(fromCHW: values, channels: c, into: $0, atPixel: y0 * w) }
            }
        }
        let result = depth == 8 ? Image(width: w, height: h, channels: c, samples: out8)
            : Image(width: w, height: h, channels: c, samples: out16)
        return result.converted(toChannels: wantChannels)
    }

    // MARK: - Tensor helpers

    /// Region of a `[1, C, H, W]` tensor.
    public static func crop(_ t: Tensor, x: Int, y: Int, width: Int, height: Int) -> Tensor {
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        precondition(x >= 0 && y >= 0 && x + width <= w && y + height <= h, "crop outside the tensor")
        if x == 0 && y == 0 && width == w && height == h { return t }
        let out = Tensor(uninitializedShape: [1, c, height, width])
        let (src, dst) = (t.pointer, out.pointer)
        for ch in 0..<c {
            for row in 0..<height {
                (dst + (ch * height + row) * width).update(from: src + (ch * h + y + row) * w + x, count: width)
            }
        }
        return out
    }
}
