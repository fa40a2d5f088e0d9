import Foundation

/// Every failure of image and data-set IO. Messages start with the file or folder they concern and
/// say what went wrong, e.g. `horse/0001.jpg: libjpeg: Premature end of JPEG file`.
public enum ImageError: LocalizedError, Equatable, Sendable {
    /// The file could not be opened or read (missing, permissions, a folder).
    case cannotOpen(path: String, reason: String)
    /// The file is not PNG or JPEG (GIF, WebP, text, an empty file…).
    case unsupportedFormat(path: String, reason: String)
    /// The codec rejected the data: truncated or corrupt file.
    case corrupt(path: String, reason: String)
    /// The image is too large to decode, or memory ran out.
    case tooLarge(path: String, reason: String)
    /// Writing an image or data file failed.
    case cannotWrite(path: String, reason: String)
    /// A data-set folder does not exist.
    case missingFolder(path: String)
    /// A path that should be a folder is a file.
    case notAFolder(path: String)
    /// A domain folder holds no readable images.
    case emptyFolder(path: String, detail: String)
    /// The image (after the load resize) is smaller than the crop the preprocessing asks for.
    case smallerThanCrop(path: String, width: Int, height: Int, cropWidth: Int, cropHeight: Int)
    /// A tensor handed to `Image(tensor:)` has a shape that is not an image.
    case invalidTensorShape(shape: [Int], expected: String)
    /// A malformed IDX (MNIST-style) file.
    case invalidIDX(path: String, reason: String)
    /// A preprocessing or data-set option that cannot work.
    case invalidOption(String)

    public var errorDescription: String? {
        switch self {
        case let .cannotOpen(path, reason): "\(path): \(reason)"
        case let .unsupportedFormat(path, reason): "\(path): \(reason)"
        case let .corrupt(path, reason): "\(path): \(reason)"
        case let .tooLarge(path, reason): "\(path): \(reason)"
        case let .cannotWrite(path, reason): "\(path): cannot write: \(reason)"
        case let .missingFolder(path): "\(path): folder does not exist"
        case let .notAFolder(path): "\(path): is a file, expected a folder"
        case let .emptyFolder(path, detail): "\(path): no images found (\(detail))"
        case let .smallerThanCrop(path, width, height, cropWidth, cropHeight):
            "\(path): image is \(width)x\(height), smaller than the \(cropWidth)x\(cropHeight) crop"
        case let .invalidTensorShape(shape, expected): "tensor of shape \(shape) is not an image: expected \(expected)"
        case let .invalidIDX(path, reason): "\(path): not a valid IDX file: \(reason)"
        case let .invalidOption(message): message
        }
    }

    /// The file or folder the error is about, when there is one.
    public var path: String? {
        switch self {
        case let .cannotOpen(path, _), let .unsupportedFormat(path, _), let .corrupt(path, _),
            let .tooLarge(path, _), let .cannotWrite(path, _), let .missingFolder(path), let .notAFolder(path),
            let .emptyFolder(path, _), let .smallerThanCrop(path, _, _, _, _), let .invalidIDX(path, _):
            path
        case .invalidTensorShape, .invalidOption: nil
        }
    }
}
