import CyclexEngine
import CyclexImaging
import CyclexModels
import CyclexNN
import Foundation

/// Images from a single GAN's generator, for sample grids and `cyclex gan sample`.
public enum SingleGANSampling {
    /// G(noise) without gradients and without changing the generator: BatchNorm normalises with
    /// the batch's statistics as in training (the reference samples in training mode), and its
    /// running statistics are put back afterwards, so sampling never alters a run.
    public static func generate(_ generator: any NoiseImageGenerator, noise: Tensor) -> Tensor {
        let saved = generator.namedBuffers.map { $0.tensor.copy() }
        defer { for (buffer, value) in zip(generator.namedBuffers, saved) { buffer.tensor.assign(value) } }
        return withoutGradient { generator(noise) }
    }

    /// A grid of `images` [N, C, H, W] in [−1, 1], ⌈√N⌉ columns, 2-pixel white gutters.
    public static func grid(_ images: Tensor) -> Image {
        let n = images.shape[0]
        let columns = max(1, Int(Double(n).squareRoot().rounded(.up)))
        var rows: [[Tensor]] = []
        for start in stride(from: 0, to: n, by: columns) {
            rows.append((start..<min(n, start + columns)).map { SampleGrid.slice(images, $0) })
        }
        return SampleGrid.image(rows: rows)
    }

    /// Image `index` of a batch [N, C, H, W] in [−1, 1].
    public static func image(_ images: Tensor, at index: Int) -> Image {
        let t = SampleGrid.slice(images, index)
        return Image(chwScalars: t.scalars, channels: t.shape[1], height: t.shape[2], width: t.shape[3])
    }
}
