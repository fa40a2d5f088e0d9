import CyclexEngine
import Testing

/// `backward(accumulatingInto:releasingGraph: true)` gives the same gradients as the ordinary
/// backward, and frees the saved activations during the walk although the loss itself is still
/// held (the ordinary backward keeps them alive through the loss's graph). Activations that no
/// backward reads are not kept by the graph at all.
@Suite struct ReleasingGraphTests {
    final class Box { weak var storage: TensorStorage?; weak var unread: TensorStorage? }

    /// loss = Σ relu(conv(x, w)) ⊙ c, with weak references to the storage of the ReLU's output
    /// (its backward reads it) and of the conv output (no backward reads it: the conv's weight
    /// gradient reads x, the ReLU's reads its output).
    static func run(releasing: Bool) -> (gradient: [Float], intermediateAlive: Bool) {
        var r = Inputs(seed: 51_000)
        let x = r.normal([1, 3, 6, 6])
        let w = Tensor(shape: [4, 3, 3, 3], scalars: r.normal([4, 3, 3, 3], std: 0.3).scalars, requiresGradient: true)
        let c = r.normal([1, 4, 4, 4])
        let box = Box()
        let loss: Tensor = {
            let h = x.conv2d(weight: w)
            let y = h.relu()
            box.storage = y.storage
            box.unread = h.storage
            return (y * c).sum()
        }()
        #expect(box.unread == nil, "the graph does not keep the conv output, which no backward reads")
        if releasing {
            loss.backward(accumulatingInto: [w], releasingGraph: true)
        } else {
            loss.backward(accumulatingInto: [w])
        }
        let alive = box.storage != nil
        _ = loss.item  // the loss stays referenced until here
        return (w.gradient!.scalars, alive)
    }

    @Test func sameGradientsAndActivationsFreed() {
        let kept = Self.run(releasing: false), released = Self.run(releasing: true)
        #expect(kept.gradient == released.gradient)
        #expect(kept.intermediateAlive, "the ordinary backward keeps the graph (and its activations)")
        #expect(!released.intermediateAlive, "releasing the graph frees the saved ReLU output during backward")
    }
}
