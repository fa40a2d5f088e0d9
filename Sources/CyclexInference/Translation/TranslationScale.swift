import CyclexImaging
import Foundation

/// At which scale a generator sees an image in `cyclex translate` and `cyclex evaluate --checkpoint`.
///
/// A fully convolutional generator runs at any size, but it learned its filters on structures of
/// one scale: a model trained at 64 px on 256-px photos saw every horse about four times smaller
/// than the photo shows it. `training` brings each image to that scale first (shorter side =
/// the checkpoint's training size, aspect ratio kept), translates, and resizes the result back to
/// the image's own size; `native` translates the pixels as they are. docs/translate.md#scale has
/// the measurement behind the default.
public enum TranslationScale: String, Sendable, CaseIterable {
    case training
    case native

    /// The default of `cyclex translate` and `cyclex evaluate --checkpoint`: native, which scored
    /// better on held-out horse2zebra (KID, FID and by eye) with a model trained at 64 px
    /// (docs/translate.md#scale).
    public static let `default`: TranslationScale = .native

    /// The size the network sees for an image of `size`.
    ///
    /// `native` keeps it. `training` scales the shorter side to `trainingSize` and the longer side
    /// by the same factor (rounded, at least 1); an image whose shorter side already is
    /// `trainingSize` keeps its size.
    public func networkSize(for size: ImageSize, trainingSize: Int) -> ImageSize {
        precondition(trainingSize >= 1 && size.width >= 1 && size.height >= 1)
        guard self == .training else { return size }
        let shorter = min(size.width, size.height)
        if shorter == trainingSize { return size }
        let factor = Double(trainingSize) / Double(shorter)
        func scaled(_ side: Int) -> Int { side == shorter ? trainingSize : max(1, Int((Double(side) * factor).rounded())) }
        return ImageSize(width: scaled(size.width), height: scaled(size.height))
    }

    /// One line for the user: what the generator sees.
    public func describe(trainingSize: Int) -> String {
        switch self {
        case .training:
            return "scale: training (each image resized so its shorter side is \(trainingSize) px, the size the model "
                + "was trained at, translated, and resized back to its own size; --scale native translates it as it is)"
        case .native:
            return "scale: native (each image translated at its own size; --scale training resizes it to the model's "
                + "training scale of \(trainingSize) px first)"
        }
    }
}

extension Translator {
    /// Translates `image` at `scale`: for `training` the image is resized (bicubic) so that its
    /// shorter side is `trainingSize`, translated, and the result resized (bicubic) back to the
    /// image's own width and height. Channels and bit depth as in `translate(_:outputChannels:outputBitDepth:)`.
    public func translate(_ image: Image, scale: TranslationScale, trainingSize: Int,
                          outputBitDepth: Int? = nil) -> Image {
        let target = scale.networkSize(for: image.size, trainingSize: trainingSize)
        if target == image.size { return translate(image, outputBitDepth: outputBitDepth) }
        let result = translate(image.resized(to: target, filter: .bicubic), outputBitDepth: outputBitDepth)
        return result.resized(to: image.size, filter: .bicubic)
    }
}

extension TranslationOutputOptions {
    /// `image` through `translator` at `scale` (native when no training size is known).
    func translate(_ image: Image, with translator: Translator, outputBitDepth: Int) -> Image {
        guard let trainingSize, scale == .training else { return translator.translate(image, outputBitDepth: outputBitDepth) }
        return translator.translate(image, scale: .training, trainingSize: trainingSize, outputBitDepth: outputBitDepth)
    }
}
