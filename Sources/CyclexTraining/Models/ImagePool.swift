import CyclexEngine

/// The replay buffer (docs/training.md#image-pool), capacity 50: images go in one by one, detached. While
/// fewer than `capacity` are stored, each image is stored and returned; afterwards, with
/// probability ½ a random stored image is returned and replaced by the new one, otherwise the
/// new image is returned.
public final class ImagePool {
    public let capacity: Int
    public private(set) var images: [Tensor] = []
    public var generator: RandomGenerator

    public init(capacity: Int = 50, generator: RandomGenerator) {
        self.capacity = capacity
        self.generator = generator
    }

    /// [B, C, H, W] → [B, C, H, W] drawn as above, without gradient history.
    public func query(_ batch: Tensor) -> Tensor {
        guard capacity > 0 else { return batch.detached() }
        let b = batch.shape[0], per = batch.count / b
        let imageShape = [1] + batch.shape.dropFirst()
        var out: [Tensor] = []
        for i in 0..<b {
            let image = Tensor(uninitializedShape: imageShape)
            image.pointer.update(from: batch.pointer + i * per, count: per)
            if images.count < capacity {
                images.append(image)
                out.append(image)
            } else if generator.nextUniformDouble() > 0.5 {
                let slot = generator.nextInt(below: capacity)
                out.append(images[slot])
                images[slot] = image
            } else {
                out.append(image)
            }
        }
        return withoutGradient { b == 1 ? out[0] : Tensor.concatenate(out, alongAxis: 0) }
    }

    /// Replaces the stored images (checkpoint restore).
    public func restore(images: [Tensor]) { self.images = Array(images.prefix(capacity)) }
}
