/// How `padded(by:mode:)` fills the border.
public enum PaddingMode: Sendable {
    /// Zeros (PyTorch `ConstantPad2d(p, 0)`).
    case zero
    /// Mirror without repeating the edge pixel (PyTorch `ReflectionPad2d`).
    case reflect
}

extension Tensor {
    /// Pads the last two axes of [B, C, H, W] by `amount` on every side → [B, C, H+2p, W+2p].
    /// Reflection needs `amount` below both sides, as PyTorch's `ReflectionPad2d`.
    public func padded(by amount: Int, mode: PaddingMode) -> Tensor {
        precondition(rank == 4, "padded(by:mode:) needs [B, C, H, W], got \(shape)")
        let (h, w) = (shape[2], shape[3])
        precondition(mode == .zero || (amount < h && amount < w),
                     "reflection padding \(amount) needs a side larger than \(amount), got \(h)x\(w)")
        return padded(top: amount, bottom: amount, left: amount, right: amount, mode: mode)
    }

    /// Pads the last two axes of [B, C, H, W] by a different amount on each side. Reflection
    /// larger than a side keeps mirroring (period 2·(side − 1); a side of 1 repeats its pixel), so
    /// any image can be brought to a network's stride (`cyclex translate`).
    public func padded(top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode) -> Tensor {
        precondition(rank == 4, "padded(top:bottom:left:right:mode:) needs [B, C, H, W], got \(shape)")
        precondition(min(top, bottom, left, right) >= 0, "negative padding")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let (oh, ow) = (h + top + bottom, w + left + right)
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        let src = pointer, dst = out.pointer
        // Source column of output column j (reflect) or -1 (zero border).
        let columnMap = (0..<ow).map { j in Self.sourceIndex(j - left, size: w, mode: mode) }
        Parallel.forRanges(planes, minimumChunk: max(1, 16_384 / (oh * ow))) { range in
            for plane in range {
                let s = src + plane * h * w, d = dst + plane * oh * ow
                for i in 0..<oh {
                    let row = d + i * ow
                    let si = Self.sourceIndex(i - top, size: h, mode: mode)
                    if si < 0 { row.update(repeating: 0, count: ow); continue }
                    let srow = s + si * w
                    for j in 0..<left { row[j] = columnMap[j] < 0 ? 0 : srow[columnMap[j]] }
                    (row + left).update(from: srow, count: w)
                    for j in (left + w)..<ow { row[j] = columnMap[j] < 0 ? 0 : srow[columnMap[j]] }
                }
            }
        }
        let inputShape = shape
        return Tensor.record(out, name: "pad", inputs: [self]) { g, _ in
            let gx = Tensor(zeros: inputShape)
            let gs = g.pointer, gd = gx.pointer
            Parallel.forRanges(planes, minimumChunk: max(1, 16_384 / (oh * ow))) { range in
                for plane in range {
                    let s = gs + plane * oh * ow, d = gd + plane * h * w
                    for i in 0..<oh {
                        let si = Self.sourceIndex(i - top, size: h, mode: mode)
                        if si < 0 { continue }
                        let grow = s + i * ow, drow = d + si * w
                        for j in 0..<ow where columnMap[j] >= 0 { drow[columnMap[j]] += grow[j] }
                    }
                }
            }
            return [gx]
        }
    }

    /// The source index of padded position `i` (in unpadded coordinates), or -1 for a zero.
    @inline(__always)
    static func sourceIndex(_ i: Int, size: Int, mode: PaddingMode) -> Int {
        if i >= 0 && i < size { return i }
        switch mode {
        case .zero: return -1
        case .reflect:
            if size == 1 { return 0 }
            let period = 2 * (size - 1)
            var m = i % period
            if m < 0 { m += period }
            return m < size ? m : period - m
        }
    }
}
