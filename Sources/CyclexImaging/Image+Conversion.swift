extension Image {
    /// The image with 8- or 16-bit samples. 8 → 16 multiplies by 257 (exact); 16 → 8 rounds
    /// `v / 257` to nearest, so an 8 → 16 → 8 round trip is lossless.
    public func converted(toBitDepth depth: Int) -> Image {
        precondition(depth == 8 || depth == 16, "bit depth must be 8 or 16")
        switch (samples, depth) {
        case let (.uint8(values), 16):
            var out = [UInt16](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count { dst[i] = UInt16(src[i]) &* 257 }
                }
            }
            return Image(width: width, height: height, channels: channels, samples: out)
        case let (.uint16(values), 8):
            var out = [UInt8](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count { dst[i] = UInt8((UInt32(src[i]) &+ 128) / 257) }
                }
            }
            return Image(width: width, height: height, channels: channels, samples: out)
        default:
            return self
        }
    }

    /// The image with `count` channels (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
    ///
    /// Alpha is composited on white when it is dropped (`out = (c·a + max·(max − a)) / max`, rounded);
    /// gray is replicated to RGB; RGB becomes gray with PIL's `convert("L")` weights
    /// (`(R·19595 + G·38470 + B·7471 + 2^15) >> 16`); added alpha is opaque.
    public func converted(toChannels count: Int) -> Image {
        precondition((1...4).contains(count), "channel count must be 1...4")
        if count == channels { return self }
        switch samples {
        case let .uint8(values):
            return Image(width: width, height: height, channels: count,
                         samples: Image.convertChannels(values, pixels: width * height, from: channels, to: count))
        case let .uint16(values):
            return Image(width: width, height: height, channels: count,
                         samples: Image.convertChannels(values, pixels: width * height, from: channels, to: count))
        }
    }

    /// Pixel loop behind `converted(toChannels:)`, for either sample type.
    static func convertChannels<T: FixedWidthInteger & UnsignedInteger>(
        _ values: [T], pixels: Int, from source: Int, to target: Int
    ) -> [T] {
        let maximum = UInt64(T.max)
        var out = [T](repeating: 0, count: pixels * target)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                @inline(__always) func composite(_ value: T, _ alpha: T) -> UInt64 {
                    let a = UInt64(alpha)
                    return (UInt64(value) * a + maximum * (maximum - a) + maximum / 2) / maximum
                }
                @inline(__always) func luma(_ r: UInt64, _ g: UInt64, _ b: UInt64) -> T {
                    T((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
                }
                let keepsAlpha = target == 2 || target == 4
                for p in 0..<pixels {
                    let s = p * source, d = p * target
                    // Colour (gray or RGB) after compositing any alpha on white.
                    var r: UInt64, g: UInt64, b: UInt64, alpha = maximum
                    switch source {
                    case 1: r = UInt64(src[s]); g = r; b = r
                    case 2:
                        alpha = UInt64(src[s + 1])
                        r = keepsAlpha ? UInt64(src[s]) : composite(src[s], src[s + 1]); g = r; b = r
                    case 3: r = UInt64(src[s]); g = UInt64(src[s + 1]); b = UInt64(src[s + 2])
                    default:
                        alpha = UInt64(src[s + 3])
                        if keepsAlpha {
                            r = UInt64(src[s]); g = UInt64(src[s + 1]); b = UInt64(src[s + 2])
                        } else {
                            r = composite(src[s], src[s + 3]); g = composite(src[s + 1], src[s + 3])
                            b = composite(src[s + 2], src[s + 3])
                        }
                    }
                    let isGraySource = source <= 2
                    switch target {
                    case 1: dst[d] = isGraySource ? T(r) : luma(r, g, b)
                    case 2:
                        dst[d] = isGraySource ? T(r) : luma(r, g, b)
                        dst[d + 1] = T(alpha)
                    case 3: dst[d] = T(r); dst[d + 1] = T(g); dst[d + 2] = T(b)
                    default: dst[d] = T(r); dst[d + 1] = T(g); dst[d + 2] = T(b); dst[d + 3] = T(alpha)
                    }
                }
            }
        }
        return out
    }
}
