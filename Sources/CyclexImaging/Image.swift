/// A decoded raster image: `height` rows of `width` pixels with `channels` interleaved samples each
/// (HWC, numpy/PIL layout), 8 or 16 bits per sample.
///
/// Channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. A value type (`Sendable`), so decoded images can
/// cross from the background decoding thread to the training loop.
public struct Image: Sendable, Equatable {
    /// The samples, row-major HWC, in one of the two supported bit depths.
    public enum Samples: Sendable, Equatable {
        case uint8([UInt8])
        case uint16([UInt16])
    }

    public let width: Int
    public let height: Int
    public let channels: Int
    public let samples: Samples

    /// 8-bit image from HWC samples (`samples.count == height * width * channels`).
    public init(width: Int, height: Int, channels: Int, samples: [UInt8]) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels), "invalid image layout")
        precondition(samples.count == width * height * channels,
                     "\(samples.count) samples for a \(width)x\(height)x\(channels) image")
        (self.width, self.height, self.channels, self.samples) = (width, height, channels, .uint8(samples))
    }

    /// 16-bit image from HWC samples (`samples.count == height * width * channels`).
    /// (Disfavoured so that an untyped array literal makes an 8-bit image.)
    @_disfavoredOverload
    public init(width: Int, height: Int, channels: Int, samples: [UInt16]) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels), "invalid image layout")
        precondition(samples.count == width * height * channels,
                     "\(samples.count) samples for a \(width)x\(height)x\(channels) image")
        (self.width, self.height, self.channels, self.samples) = (width, height, channels, .uint16(samples))
    }

    /// 8 or 16.
    public var bitDepth: Int {
        if case .uint8 = samples { return 8 }
        return 16
    }

    /// 255 or 65535.
    public var maximumValue: Int { bitDepth == 8 ? 255 : 65535 }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    public var size: ImageSize { ImageSize(width: width, height: height) }

    /// The 8-bit samples, or nil for a 16-bit image.
    public var samples8: [UInt8]? {
        if case let .uint8(values) = samples { return values }
        return nil
    }

    /// The 16-bit samples, or nil for an 8-bit image.
    public var samples16: [UInt16]? {
        if case let .uint16(values) = samples { return values }
        return nil
    }

    /// One sample as an integer (slow; for tests and inspection).
    public func sample(x: Int, y: Int, channel: Int) -> Int {
        let index = (y * width + x) * channels + channel
        switch samples {
        case let .uint8(values): return Int(values[index])
        case let .uint16(values): return Int(values[index])
        }
    }
}

/// A width and height in pixels (PIL order: width first).
public struct ImageSize: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// A square size.
    public init(square side: Int) { self.init(width: side, height: side) }

    public var description: String { "\(width)x\(height)" }
}
