import CyclexEngine
import Testing

/// `backward(accumulatingInto:releasingGraph: true)` gives the same gradients as the ordinary
/// backward, and frees the intermediate activations during the walk although the loss itself is
/// still held (the ordinary backward keeps them alive through the loss's graph).
@Suite struct ReleasingGraphTests {
    final class Box { weak var tensor: Tensor? }

    /// loss = Σ relu(conv(x, w)) ⊙ c, with a weak reference to the conv output.
    static func run(releasing: Bool) -> (gradient: [Float], intermediateAlive: Bool) {
        var r = Inputs(seed: 51_000)
        let x = r.normal([1, 3, 6, 6])
        let w = Tensor(shape: [4, 3, 3, 3], scalars: r.normal([4, 3, 3, 3], std: 0.3).scalars, requiresGradient: true)
        let c = r.normal([1, 4, 4, 4])
        let box = Box()
        let loss: Tensor = {
            let h = x.conv2d(weight: w)
            box.tensor = h
            return (h.relu() * c).sum()
        }()
        if releasing {
            loss.backward(accumulatingInto: [w], releasingGraph: true)
        } else {
            loss.backward(accumulatingInto: [w])
        }
        let alive = box.tensor != nil
        _ = loss.item  // the loss stays referenced until here
        return (w.gradient!.scalars, alive)
    }

    @Test func sameGradientsAndActivationsFreed() {
        let kept = Self.run(releasing: false), released = Self.run(releasing: true)
        #expect(kept.gradient == released.gradient)
        #expect(kept.intermediateAlive, "the ordinary backward keeps the graph (and its activations)")
        #expect(!released.intermediateAlive, "releasing the graph frees the conv output during backward")
    }
}
