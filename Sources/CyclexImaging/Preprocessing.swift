import CyclexEngine
import Foundation

/// How a loaded image becomes a network input (CycleGAN's `get_transform`; docs/training.md#preprocessing).
///
/// Order: channel conversion (RGB with alpha composited on white, or gray) → resize → crop →
/// flips. Random choices are drawn in the reference's order: crop x, crop y, horizontal flip,
/// vertical flip.
public struct Preprocessing: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Resize to `loadSize`² (286 for size 256), then crop `size`² (random when training, centred
        /// otherwise).
        case resizeAndCrop = "resize_and_crop"
        /// Resize straight to `size`² (xAI-CycleGAN; also cyclex's inference path, docs/training.md#inference).
        case resize
        /// Crop `size`² from the image as it is; images smaller than the crop are an error.
        case crop
        /// Keep the image, only snapping each side to a multiple of 4 (round half to even, ≥ 4).
        case none
    }

    public var mode: Mode
    /// The network input side (`crop_size`).
    public var size: Int
    /// The side before cropping in `.resizeAndCrop`; nil means `round(size · 286 / 256)`.
    public var loadSize: Int?
    public var filter: ResizeFilter
    /// Random horizontal flip with p = 0.5 (training only).
    public var horizontalFlip: Bool
    /// Random vertical flip with p = 0.5 (training only; xAI-CycleGAN uses it).
    public var verticalFlip: Bool
    /// 3 for RGB, 1 for gray.
    public var channels: Int
    /// Training draws random crops and flips; otherwise crops are centred and nothing is flipped.
    public var isTraining: Bool

    public init(
        mode: Mode = .resizeAndCrop, size: Int = 256, loadSize: Int? = nil, filter: ResizeFilter = .bicubic,
        horizontalFlip: Bool = true, verticalFlip: Bool = false, channels: Int = 3, isTraining: Bool = true
    ) {
        self.mode = mode
        self.size = size
        self.loadSize = loadSize
        self.filter = filter
        self.horizontalFlip = horizontalFlip
        self.verticalFlip = verticalFlip
        self.channels = channels
        self.isTraining = isTraining
    }

    /// CycleGAN's 286 → 256 ratio scaled to `size`, rounded half away from zero (64 → 72, 128 → 143).
    public var effectiveLoadSize: Int { loadSize ?? Int((Double(size) * 286 / 256).rounded()) }

    /// The inference path (docs/training.md#inference): resize to `size`² (bicubic), no crop, no flip.
    public static func inference(size: Int = 256, channels: Int = 3) -> Preprocessing {
        Preprocessing(mode: .resize, size: size, horizontalFlip: false, channels: channels, isTraining: false)
    }

    /// Checks the options once, before any image is read.
    public func validate() throws {
        guard size > 0 else { throw ImageError.invalidOption("preprocessing size must be positive, got \(size)") }
        guard channels == 1 || channels == 3 else {
            throw ImageError.invalidOption("preprocessing channels must be 1 or 3, got \(channels)")
        }
        if mode == .resizeAndCrop && effectiveLoadSize < size {
            throw ImageError.invalidOption("load size \(effectiveLoadSize) is smaller than the crop size \(size)")
        }
    }

    /// Applies the pipeline; `path` names the file in errors.
    /// - Throws: `ImageError.smallerThanCrop` when a `.crop` source is smaller than `size`.
    public func apply(to image: Image, path: String, using generator: inout RandomGenerator) throws -> Image {
        var result = image.converted(toChannels: channels)
        if result.bitDepth != 8 { result = result.converted(toBitDepth: 8) }
        switch mode {
        case .resizeAndCrop:
            let load = effectiveLoadSize
            result = result.resized(to: ImageSize(square: load), filter: filter)
        case .resize:
            result = result.resized(to: ImageSize(square: size), filter: filter)
        case .crop:
            break
        case .none:
            func snap(_ side: Int) -> Int { max(4, Int((Double(side) / 4).rounded(.toNearestOrEven)) * 4) }
            result = result.resized(to: ImageSize(width: snap(result.width), height: snap(result.height)), filter: filter)
        }
        if mode == .resizeAndCrop || mode == .crop {
            guard result.width >= size && result.height >= size else {
                throw ImageError.smallerThanCrop(
                    path: path, width: result.width, height: result.height, cropWidth: size, cropHeight: size)
            }
            if isTraining {
                let x = generator.nextInt(below: result.width - size + 1)
                let y = generator.nextInt(below: result.height - size + 1)
                result = result.cropped(x: x, y: y, width: size, height: size)
            } else {
                result = result.centerCropped(to: ImageSize(square: size))
            }
        }
        if isTraining {
            if horizontalFlip && generator.nextUniformFloat() < 0.5 { result = result.flippedHorizontally() }
            if verticalFlip && generator.nextUniformFloat() < 0.5 { result = result.flippedVertically() }
        }
        return result
    }

    /// Reads, preprocesses and converts one file to CHW floats in [−1, 1], shape `[channels, H, W]`.
    public func load(_ url: URL, using generator: inout RandomGenerator) throws -> (scalars: [Float], size: ImageSize) {
        let image = try apply(to: Image(contentsOf: url), path: url.path, using: &generator)
        return (image.chwScalars(channels: channels), image.size)
    }
}
