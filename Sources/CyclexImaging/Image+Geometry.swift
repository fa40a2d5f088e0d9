extension Image {
    /// The `width`×`height` region whose top-left pixel is (`x`, `y`); it must lie inside the image.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> Image {
        precondition(x >= 0 && y >= 0 && cropWidth >= 0 && cropHeight >= 0
                     && x + cropWidth <= width && y + cropHeight <= height,
                     "crop \(cropWidth)x\(cropHeight) at (\(x), \(y)) outside a \(width)x\(height) image")
        switch samples {
        case let .uint8(values):
            return Image(width: cropWidth, height: cropHeight, channels: channels,
                         samples: Self.crop(values, width: width, channels: channels,
                                            x: x, y: y, cropWidth: cropWidth, cropHeight: cropHeight))
        case let .uint16(values):
            return Image(width: cropWidth, height: cropHeight, channels: channels,
                         samples: Self.crop(values, width: width, channels: channels,
                                            x: x, y: y, cropWidth: cropWidth, cropHeight: cropHeight))
        }
    }

    /// The centred `size` region, offsets rounded like torchvision's `CenterCrop`
    /// (`round((W − w) / 2)`, half to even). The image must be at least `size`.
    public func centerCropped(to size: ImageSize) -> Image {
        let left = Int((Double(width - size.width) / 2).rounded(.toNearestOrEven))
        let top = Int((Double(height - size.height) / 2).rounded(.toNearestOrEven))
        return cropped(x: left, y: top, width: size.width, height: size.height)
    }

    /// Mirror image left ↔ right.
    public func flippedHorizontally() -> Image {
        switch samples {
        case let .uint8(values):
            return Image(width: width, height: height, channels: channels,
                         samples: Self.flipHorizontally(values, width: width, height: height, channels: channels))
        case let .uint16(values):
            return Image(width: width, height: height, channels: channels,
                         samples: Self.flipHorizontally(values, width: width, height: height, channels: channels))
        }
    }

    /// Mirror image top ↔ bottom.
    public func flippedVertically() -> Image {
        switch samples {
        case let .uint8(values):
            return Image(width: width, height: height, channels: channels,
                         samples: Self.crop(values, width: width, channels: channels, x: 0, y: 0,
                                            cropWidth: width, cropHeight: height, reversingRows: true))
        case let .uint16(values):
            return Image(width: width, height: height, channels: channels,
                         samples: Self.crop(values, width: width, channels: channels, x: 0, y: 0,
                                            cropWidth: width, cropHeight: height, reversingRows: true))
        }
    }

    /// Row-wise copy of a rectangle, optionally with the row order reversed.
    private static func crop<T: FixedWidthInteger>(
        _ values: [T], width: Int, channels: Int, x: Int, y: Int, cropWidth: Int, cropHeight: Int,
        reversingRows: Bool = false
    ) -> [T] {
        let rowLength = cropWidth * channels
        var out = [T](repeating: 0, count: rowLength * cropHeight)
        guard rowLength > 0 else { return out }
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<cropHeight {
                    let sourceRow = reversingRows ? cropHeight - 1 - row : row
                    (dst.baseAddress! + row * rowLength)
                        .update(from: src.baseAddress! + ((y + sourceRow) * width + x) * channels, count: rowLength)
                }
            }
        }
        return out
    }

    private static func flipHorizontally<T: FixedWidthInteger>(
        _ values: [T], width: Int, height: Int, channels: Int
    ) -> [T] {
        var out = [T](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<height {
                    let base = row * width * channels
                    for column in 0..<width {
                        let from = base + (width - 1 - column) * channels, to = base + column * channels
                        for c in 0..<channels { dst[to + c] = src[from + c] }
                    }
                }
            }
        }
        return out
    }
}
