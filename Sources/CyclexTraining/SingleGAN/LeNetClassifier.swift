import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexModels
import CyclexNN
import Foundation

/// The LeNet-5 whose 84-d features score MNIST-like single-GAN samples (FID/KID,
/// docs/models.md#lenet-5): trained by cyclex on a data set's training split and stored as a
/// small safetensors file (61,706 parameters, ~250 kB) with `cyclex.lenet` = "1" and the test
/// accuracy in its header.
public enum LeNetClassifier {
    public static let formatKey = "cyclex.lenet"

    /// Images [B, 1, 32, 32] in [−1, 1] → LeNet's input range [0, 1].
    public static func input(_ images: Tensor) -> Tensor { withoutGradient { (images + 1) * 0.5 } }

    /// Trains on `train` (1 channel, 32×32) with Adam (lr 1e-3) and the negative log-likelihood,
    /// `epochs` passes in a seeded order; `progress` receives (epoch, mean loss).
    public static func train(on train: GANImageSet, epochs: Int, batchSize: Int = 64, seed: UInt64,
                             progress: (Int, Double) -> Void = { _, _ in }) -> LeNet5 {
        precondition(train.channels == 1 && train.side == 32, "LeNet-5 takes 1×32×32 images")
        var g = RandomGenerator(seed: seed)
        let network = LeNet5(using: &g)
        let optimizer = Adam(parameters: network.parameters, learningRate: 1e-3)
        for epoch in 1...epochs {
            var order = Array(0..<train.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
            var total = 0.0, batches = 0
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let indices = Array(order[start..<min(order.count, start + batchSize)])
                let x = input(train.batch(indices))
                // One-hot targets scaled by −1/B: loss = −mean log p(label).
                var targets = [Float](repeating: 0, count: indices.count * 10)
                for (row, index) in indices.enumerated() { targets[row * 10 + min(train.labels[index], 9)] = -1 / Float(indices.count) }
                optimizer.zeroGradients()
                let loss = withGradient { (network(x) * Tensor(shape: [indices.count, 10], scalars: targets)).sum() }
                loss.backward(accumulatingInto: optimizer.parameters)
                optimizer.step()
                total += Double(loss.item); batches += 1
            }
            progress(epoch, total / Double(max(batches, 1)))
        }
        return network
    }

    /// Share of `set`'s images whose arg-max class is their label.
    public static func accuracy(_ network: LeNet5, on set: GANImageSet) -> Double {
        var correct = 0
        for start in stride(from: 0, to: set.count, by: 256) {
            let indices = Array(start..<min(set.count, start + 256))
            let out = withoutGradient { network(input(set.batch(indices))) }
            for (row, index) in indices.enumerated() {
                let logits = Array(UnsafeBufferPointer(start: out.pointer + row * 10, count: 10))
                if logits.indices.max(by: { logits[$0] < logits[$1] }) == set.labels[index] { correct += 1 }
            }
        }
        return Double(correct) / Double(max(set.count, 1))
    }

    public static func save(_ network: LeNet5, accuracy: Double, data: String, to url: URL) throws {
        var writer = SafeTensorsWriter()
        writer.metadata[formatKey] = "1"
        writer.metadata["cyclex.lenet.test_accuracy"] = String(accuracy)
        writer.metadata["cyclex.lenet.data"] = data
        for (name, tensor) in network.namedParameters { writer.add(name, tensor) }
        try writer.write(to: url)
    }

    /// Reads a file written by `save`; every tensor must be present with LeNet-5's shape.
    public static func load(_ url: URL) throws -> LeNet5 {
        let file = try CheckpointFormat.open(url)
        guard file.metadata[formatKey] == "1" else {
            throw CheckpointError.notACyclexCheckpoint(path: url.path, reason: "no '\(formatKey)' entry: not written by `cyclex gan train-classifier`")
        }
        var g = RandomGenerator(seed: 0)
        let network = LeNet5(using: &g)
        do {
            try network.load { file.contains($0) ? try file.tensor($0) : nil }
        } catch let error as ModuleError {
            throw CheckpointError.incompatible(path: url.path, reason: error.localizedDescription)
        }
        return network
    }

    /// The 84-d features of `images` [N, 1, 32, 32] in [−1, 1], in chunks, as rows of a matrix.
    public static func features(_ network: LeNet5, of images: Tensor) -> (rows: Int, values: [Float]) {
        let n = images.shape[0], per = images.count / n
        var values: [Float] = []
        values.reserveCapacity(n * 84)
        for start in stride(from: 0, to: n, by: 256) {
            let count = min(256, n - start)
            let chunk = Tensor(uninitializedShape: [count] + images.shape.dropFirst())
            chunk.pointer.update(from: images.pointer + start * per, count: count * per)
            values += withoutGradient { network.features(input(chunk)) }.scalars
        }
        return (n, values)
    }
}
