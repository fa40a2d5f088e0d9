import CyclexEngine

/// How sample values map to floats.
public enum SampleRange: Sendable {
    /// torchvision `ToTensor`: x / max in [0, 1].
    case unit
    /// `ToTensor` then `Normalize(0.5, 0.5)`: (x / max − 0.5) / 0.5 in [−1, 1] (the CycleGAN input).
    case symmetric
}

extension Image {
    /// CHW float32 samples, shape `[C, H, W]`, computed in float32 in torchvision's order
    /// (`x / 255`, then `(t − 0.5) / 0.5` for `.symmetric`).
    ///
    /// - Parameter channels: 3 for RGB (gray replicated, alpha composited on white), 1 for gray
    ///   (RGB → PIL luma), nil to keep the image's own channels.
    public func chwScalars(channels: Int? = nil, range: SampleRange = .symmetric) -> [Float] {
        let image = channels.map { converted(toChannels: $0) } ?? self
        let (c, plane) = (image.channels, image.width * image.height)
        var out = [Float](repeating: 0, count: c * plane)
        out.withUnsafeMutableBufferPointer { dst in
            switch image.samples {
            case let .uint8(values):
                var table = [Float](repeating: 0, count: 256)
                for v in 0..<256 { table[v] = Image.floatSample(Float(v), maximum: 255, range: range) }
                values.withUnsafeBufferPointer { src in
                    table.withUnsafeBufferPointer { lookup in
                        for p in 0..<plane {
                            for k in 0..<c { dst[k * plane + p] = lookup[Int(src[p * c + k])] }
                        }
                    }
                }
            case let .uint16(values):
                values.withUnsafeBufferPointer { src in
                    for p in 0..<plane {
                        for k in 0..<c {
                            dst[k * plane + p] = Image.floatSample(Float(src[p * c + k]), maximum: 65535, range: range)
                        }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func floatSample(_ value: Float, maximum: Float, range: SampleRange) -> Float {
        let unit = value / maximum
        return range == .unit ? unit : (unit - 0.5) / 0.5
    }

    /// The image as a `[1, C, H, W]` tensor in [−1, 1] (see `chwScalars(channels:range:)`).
    public func tensor(channels: Int? = nil, range: SampleRange = .symmetric) -> Tensor {
        let scalars = chwScalars(channels: channels, range: range)
        let c = scalars.count / max(width * height, 1)
        return Tensor(shape: [1, channels ?? c, height, width], scalars: scalars)
    }

    /// An 8-bit image from CHW floats in [−1, 1] by the rule of `storeSamples(fromCHW:...)`.
    /// `channels` must be 1 (gray), 3 (RGB) or 4 (RGBA).
    public init(chwScalars scalars: [Float], channels: Int, height: Int, width: Int) {
        precondition(channels == 1 || channels == 3 || channels == 4, "image tensors have 1, 3 or 4 channels")
        precondition(scalars.count == channels * height * width, "\(scalars.count) scalars for [\(channels), \(height), \(width)]")
        var out = [UInt8](repeating: 0, count: scalars.count)
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { Image.storeSamples(fromCHW: src, channels: channels, into: $0, atPixel: 0) }
        }
        self.init(width: width, height: height, channels: channels, samples: out)
    }

    /// The one rule from network outputs to stored samples (`translate`, sample grids, tests).
    ///
    /// `values` holds `channels` planes of `n` pixels (CHW floats in [−1, 1]); they are written
    /// interleaved to pixels `pixel..<pixel + n` of `samples`. 8-bit samples use CycleGAN's
    /// `tensor2im` rule: `(x + 1) / 2 · 255` computed in float32 in that order, truncated toward
    /// zero and clamped to 0…255 (not rounded).
    public static func storeSamples(fromCHW values: UnsafeBufferPointer<Float>, channels: Int,
                                    into samples: UnsafeMutableBufferPointer<UInt8>, atPixel pixel: Int) {
        let plane = values.count / channels
        for k in 0..<channels {
            for p in 0..<plane {
                let v = (values[k * plane + p] + 1) / 2 * 255
                samples[(pixel + p) * channels + k] = v >= 255 ? 255 : (v > 0 ? UInt8(v) : 0)
            }
        }
    }

    /// 16-bit samples from CHW floats in [−1, 1]: `(x + 1) / 2 · 65535` rounded to nearest and
    /// clamped to 0…65535 (no reference to match; rounding keeps the full precision).
    public static func storeSamples(fromCHW values: UnsafeBufferPointer<Float>, channels: Int,
                                    into samples: UnsafeMutableBufferPointer<UInt16>, atPixel pixel: Int) {
        let plane = values.count / channels
        for k in 0..<channels {
            for p in 0..<plane {
                let v = ((values[k * plane + p] + 1) / 2 * 65535).rounded()
                samples[(pixel + p) * channels + k] = v >= 65535 ? 65535 : (v > 0 ? UInt16(v) : 0)
            }
        }
    }

    /// An 8-bit image from a `[C, H, W]` or `[1, C, H, W]` tensor in [−1, 1] (rule of
    /// `init(chwScalars:channels:height:width:)`).
    /// - Throws: `ImageError.invalidTensorShape` for other shapes or channel counts.
    public init(tensor: Tensor) throws {
        var shape = tensor.shape
        if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
        guard shape.count == 3, [1, 3, 4].contains(shape[0]), shape[1] > 0, shape[2] > 0 else {
            throw ImageError.invalidTensorShape(shape: tensor.shape, expected: "[C, H, W] or [1, C, H, W] with C 1 or 3")
        }
        self.init(chwScalars: tensor.scalars, channels: shape[0], height: shape[1], width: shape[2])
    }

    /// One 8-bit image per batch entry of an `[N, C, H, W]` tensor in [−1, 1].
    public static func images(fromBatch tensor: Tensor) throws -> [Image] {
        let shape = tensor.shape
        guard shape.count == 4, [1, 3, 4].contains(shape[1]), shape[2] > 0, shape[3] > 0 else {
            throw ImageError.invalidTensorShape(shape: shape, expected: "[N, C, H, W] with C 1 or 3")
        }
        let scalars = tensor.scalars
        let per = shape[1] * shape[2] * shape[3]
        return (0..<shape[0]).map { n in
            Image(chwScalars: Array(scalars[n * per..<(n + 1) * per]), channels: shape[1], height: shape[2], width: shape[3])
        }
    }
}
