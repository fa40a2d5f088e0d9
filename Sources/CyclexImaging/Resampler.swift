import Foundation

/// Resampling filters, with Pillow's definitions.
public enum ResizeFilter: String, Sendable, CaseIterable {
    /// Triangle filter, support 1 (PIL `BILINEAR`).
    case bilinear
    /// Keys cubic with a = −0.5, support 2 (PIL `BICUBIC`).
    case bicubic
    /// Lanczos-3 windowed sinc, support 3 (PIL `LANCZOS`).
    case lanczos

    /// Half-width of the filter at scale 1.
    var support: Double {
        switch self {
        case .bilinear: 1
        case .bicubic: 2
        case .lanczos: 3
        }
    }

    @inline(__always)
    func weight(_ t: Double) -> Double {
        switch self {
        case .bilinear:
            let x = abs(t)
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5, x = abs(t)
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            guard -3 <= t && t < 3 else { return 0 }
            return Self.sinc(t) * Self.sinc(t / 3)
        }
    }

    private static func sinc(_ t: Double) -> Double {
        if t == 0 { return 1 }
        let x = t * Double.pi
        return sin(x) / x
    }
}

/// Pillow's separable resampling (`Image.resize`, reducing_gap None), reproduced bit for bit.
///
/// For each output index i along an axis: scale = in/out, filterscale = max(scale, 1) (antialiasing
/// when shrinking), support = filter.support · filterscale, center = (i + 0.5) · scale, taps from
/// `Int(center − support + 0.5)` to `Int(center + support + 0.5)` clipped to the input, weights
/// `filter((j − center + 0.5) / filterscale)` normalised to sum 1. The horizontal pass runs first
/// (only if the width changes), then the vertical pass (only if the height changes).
///
/// 8-bit images use PIL's 22-bit fixed point: weights `round(w · 2^22)` away from zero, outputs
/// `clip((2^21 + Σ w·pixel) >> 22, 0, 255)`, and a uint8 intermediate between the passes.
/// The float path (PIL mode "F") uses double weights and sums with a float32 intermediate.
public enum Resampler {
    /// Tap positions and normalised weights for one axis.
    struct Coefficients {
        let outputSize: Int
        /// Slots per output index in `weights` (the largest tap count).
        let stride: Int
        let starts: [Int]
        let counts: [Int]
        let weights: [Double]

        init(inputSize: Int, outputSize: Int, filter: ResizeFilter) {
            let scale = Double(inputSize) / Double(outputSize)
            let filterScale = max(scale, 1)
            let support = filter.support * filterScale
            let stride = Int(support.rounded(.up)) * 2 + 1
            var starts = [Int](repeating: 0, count: outputSize)
            var counts = [Int](repeating: 0, count: outputSize)
            var weights = [Double](repeating: 0, count: outputSize * stride)
            let inverseScale = 1 / filterScale
            for i in 0..<outputSize {
                let center = (Double(i) + 0.5) * scale
                let start = max(Int(center - support + 0.5), 0)
                let count = min(min(Int(center + support + 0.5), inputSize) - start, stride)
                var sum = 0.0
                for j in 0..<max(count, 0) {
                    let w = filter.weight((Double(j + start) - center + 0.5) * inverseScale)
                    weights[i * stride + j] = w
                    sum += w
                }
                if sum != 0 {
                    for j in 0..<max(count, 0) { weights[i * stride + j] /= sum }
                }
                starts[i] = start
                counts[i] = max(count, 0)
            }
            (self.outputSize, self.stride, self.starts, self.counts, self.weights) =
                (outputSize, stride, starts, counts, weights)
        }

        /// PIL's `normalize_coeffs_8bpc`: each weight as round(w · 2^22), rounding half away from zero.
        var fixedPointWeights: [Int32] {
            weights.map { w in Int32(w < 0 ? -0.5 + w * 4_194_304 : 0.5 + w * 4_194_304) }
        }
    }

    /// Resizes 8-bit HWC samples exactly as Pillow does for modes "L" and "RGB".
    public static func resize(
        _ samples: [UInt8], size: ImageSize, channels: Int, to target: ImageSize, filter: ResizeFilter
    ) -> [UInt8] {
        precondition(samples.count == size.width * size.height * channels, "sample count does not match the size")
        precondition(target.width > 0 && target.height > 0, "resize target must be at least 1x1")
        var current = samples
        var width = size.width
        if target.width != size.width {
            let coefficients = Coefficients(inputSize: size.width, outputSize: target.width, filter: filter)
            current = horizontalPass8(current, width: width, height: size.height, channels: channels, coefficients)
            width = target.width
        }
        if target.height != size.height {
            let coefficients = Coefficients(inputSize: size.height, outputSize: target.height, filter: filter)
            current = verticalPass8(current, width: width, channels: channels, coefficients)
        }
        return current
    }

    /// Resizes float HWC samples like Pillow's mode "F" (double weights and sums, float32 between passes).
    public static func resize(
        _ samples: [Float], size: ImageSize, channels: Int, to target: ImageSize, filter: ResizeFilter
    ) -> [Float] {
        precondition(samples.count == size.width * size.height * channels, "sample count does not match the size")
        precondition(target.width > 0 && target.height > 0, "resize target must be at least 1x1")
        var current = samples
        var width = size.width
        if target.width != size.width {
            let coefficients = Coefficients(inputSize: size.width, outputSize: target.width, filter: filter)
            current = horizontalPassFloat(current, width: width, height: size.height, channels: channels, coefficients)
            width = target.width
        }
        if target.height != size.height {
            let coefficients = Coefficients(inputSize: size.height, outputSize: target.height, filter: filter)
            current = verticalPassFloat(current, width: width, channels: channels, coefficients)
        }
        return current
    }

    // MARK: - 8-bit passes

    private static func horizontalPass8(
        _ input: [UInt8], width: Int, height: Int, channels: Int, _ k: Coefficients
    ) -> [UInt8] {
        let outWidth = k.outputSize
        var output = [UInt8](repeating: 0, count: outWidth * height * channels)
        let weights = k.fixedPointWeights
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                weights.withUnsafeBufferPointer { w in
                    for y in 0..<height {
                        let row = y * width * channels, outRow = y * outWidth * channels
                        for x in 0..<outWidth {
                            let start = k.starts[x], count = k.counts[x], wBase = x * k.stride
                            for c in 0..<channels {
                                var acc = 1 << 21
                                var s = row + start * channels + c
                                for t in 0..<count {
                                    acc &+= Int(w[wBase + t]) &* Int(src[s])
                                    s &+= channels
                                }
                                dst[outRow + x * channels + c] = clip8(acc)
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    private static func verticalPass8(_ input: [UInt8], width: Int, channels: Int, _ k: Coefficients) -> [UInt8] {
        let rowLength = width * channels
        var output = [UInt8](repeating: 0, count: k.outputSize * rowLength)
        let weights = k.fixedPointWeights
        var accumulators = [Int](repeating: 0, count: rowLength)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                weights.withUnsafeBufferPointer { w in
                    accumulators.withUnsafeMutableBufferPointer { acc in
                        for y in 0..<k.outputSize {
                            for i in 0..<rowLength { acc[i] = 1 << 21 }
                            let start = k.starts[y], wBase = y * k.stride
                            for t in 0..<k.counts[y] {
                                let weight = Int(w[wBase + t]), srcRow = (start + t) * rowLength
                                for i in 0..<rowLength { acc[i] &+= weight &* Int(src[srcRow + i]) }
                            }
                            let outRow = y * rowLength
                            for i in 0..<rowLength { dst[outRow + i] = clip8(acc[i]) }
                        }
                    }
                }
            }
        }
        return output
    }

    @inline(__always)
    private static func clip8(_ value: Int) -> UInt8 {
        let shifted = value >> 22
        return shifted <= 0 ? 0 : (shifted >= 255 ? 255 : UInt8(shifted))
    }

    // MARK: - float passes

    private static func horizontalPassFloat(
        _ input: [Float], width: Int, height: Int, channels: Int, _ k: Coefficients
    ) -> [Float] {
        let outWidth = k.outputSize
        var output = [Float](repeating: 0, count: outWidth * height * channels)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                k.weights.withUnsafeBufferPointer { w in
                    for y in 0..<height {
                        let row = y * width * channels, outRow = y * outWidth * channels
                        for x in 0..<outWidth {
                            let start = k.starts[x], count = k.counts[x], wBase = x * k.stride
                            for c in 0..<channels {
                                var acc = 0.0
                                var s = row + start * channels + c
                                for t in 0..<count {
                                    acc += Double(src[s]) * w[wBase + t]
                                    s &+= channels
                                }
                                dst[outRow + x * channels + c] = Float(acc)
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    private static func verticalPassFloat(_ input: [Float], width: Int, channels: Int, _ k: Coefficients) -> [Float] {
        let rowLength = width * channels
        var output = [Float](repeating: 0, count: k.outputSize * rowLength)
        var accumulators = [Double](repeating: 0, count: rowLength)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                k.weights.withUnsafeBufferPointer { w in
                    accumulators.withUnsafeMutableBufferPointer { acc in
                        for y in 0..<k.outputSize {
                            for i in 0..<rowLength { acc[i] = 0 }
                            let start = k.starts[y], wBase = y * k.stride
                            for t in 0..<k.counts[y] {
                                let weight = w[wBase + t], srcRow = (start + t) * rowLength
                                for i in 0..<rowLength { acc[i] += Double(src[srcRow + i]) * weight }
                            }
                            let outRow = y * rowLength
                            for i in 0..<rowLength { dst[outRow + i] = Float(acc[i]) }
                        }
                    }
                }
            }
        }
        return output
    }
}

extension Image {
    /// The image resized to `size` with Pillow's algorithm (see `Resampler`); bit-exact with
    /// `PIL.Image.resize` for 8-bit gray and RGB. 16-bit images go through the float path and are
    /// rounded to nearest. Resizing to the current size returns the image unchanged.
    public func resized(to size: ImageSize, filter: ResizeFilter = .bicubic) -> Image {
        if size == self.size { return self }
        switch samples {
        case let .uint8(values):
            return Image(width: size.width, height: size.height, channels: channels,
                         samples: Resampler.resize(values, size: self.size, channels: channels, to: size, filter: filter))
        case let .uint16(values):
            let resized = Resampler.resize(values.map(Float.init), size: self.size, channels: channels,
                                           to: size, filter: filter)
            let out = resized.map { UInt16(min(max($0.rounded(), 0), 65535)) }
            return Image(width: size.width, height: size.height, channels: channels, samples: out)
        }
    }
}
