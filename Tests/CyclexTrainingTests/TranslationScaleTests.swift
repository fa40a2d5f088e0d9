import CyclexEngine
import CyclexImaging
import CyclexInference
import Foundation
import Testing

/// `--scale training|native` of `cyclex translate` and `cyclex evaluate --checkpoint`: which size
/// the network sees, and that the training-scale result is resize → network → resize back.
struct TranslationScaleTests {
    @Test(arguments: [
        // (width, height, training size) → expected network size at the training scale
        (256, 256, 64, 64, 64), (320, 240, 64, 85, 64), (240, 320, 64, 64, 85), (64, 100, 64, 64, 100),
        (30, 20, 64, 96, 64), (1000, 3, 8, 2667, 8),
    ])
    func trainingScaleSetsTheShorterSide(w: Int, h: Int, training: Int, ew: Int, eh: Int) {
        let size = ImageSize(width: w, height: h)
        #expect(TranslationScale.training.networkSize(for: size, trainingSize: training) == ImageSize(width: ew, height: eh))
        #expect(TranslationScale.native.networkSize(for: size, trainingSize: training) == size)
    }

    /// An identity network that records the spatial sizes it was given.
    final class Recorder: @unchecked Sendable {
        var shapes: [[Int]] = []
    }

    static func identityTranslator(_ recorder: Recorder) -> Translator {
        Translator(stride: 1, channels: 3, tileSize: 0) { x in
            recorder.shapes.append(x.shape)
            return x
        }
    }

    @Test func trainingScaleIsResizeTranslateResizeBack() {
        let image = TranslateTests.smoothImage(width: 120, height: 90, seed: 3)
        let recorder = Recorder()
        let translator = Self.identityTranslator(recorder)
        let result = translator.translate(image, scale: .training, trainingSize: 32)
        #expect(recorder.shapes == [[1, 3, 32, 43]])  // 90 → 32, 120 · 32/90 = 42.7 → 43
        #expect(result.size == image.size)
        // The same steps by hand: the identity network loses at most one level (tensor2im truncation).
        let expected = translator.translate(image.resized(to: ImageSize(width: 43, height: 32), filter: .bicubic))
            .resized(to: image.size, filter: .bicubic)
        #expect(result.samples8 == expected.samples8)
        // And it differs from the native translation (the round trip through 32 px blurs).
        let native = translator.translate(image, scale: .native, trainingSize: 32)
        #expect(recorder.shapes.last == [1, 3, 90, 120])
        let difference = zip(native.samples8!, image.samples8!).map { abs(Int($0) - Int($1)) }.max()!
        #expect(difference <= 1)
        #expect(native.samples8 != result.samples8)
    }

    @Test func imagesAtTheTrainingSizeAreNotResized() {
        let image = TranslateTests.smoothImage(width: 48, height: 32, seed: 4)
        let recorder = Recorder()
        let translator = Self.identityTranslator(recorder)
        let atTraining = translator.translate(image, scale: .training, trainingSize: 32)
        let native = translator.translate(image, scale: .native, trainingSize: 32)
        #expect(recorder.shapes == [[1, 3, 32, 48], [1, 3, 32, 48]])
        #expect(atTraining.samples8 == native.samples8)
    }
}
