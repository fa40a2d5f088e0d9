/// One tensor's place in the recorded graph, apart from its values: how it was computed (`node`,
/// nil for leaves) and, weakly, the tensor itself (to deliver a leaf's gradient while someone
/// still holds it).
///
/// Ops refer to their inputs through vertices, not tensors, so recording an op does not keep its
/// inputs' storage alive: each backward closure keeps exactly the values it needs (PyTorch's
/// saved tensors), and an activation whose consumers' backwards do not read it (the input of a
/// padding, an addition, a tanh) is freed as soon as the forward pass is done with it.
final class GraphVertex {
    var node: GradNode?
    weak var tensor: Tensor?

    init(tensor: Tensor) { self.tensor = tensor }

    /// Whether gradients flow through (recorded op) or to (a leaf still alive that asks) this vertex.
    var requiresGradient: Bool { node != nil || (tensor?.requiresGradient ?? false) }
}

/// The recorded history of one op's output: its inputs and how to map the output's gradient
/// to theirs. `backward(gradOutput, needsGradient)` returns one entry per input (nil where the
/// input needs none), so kernels skip work nobody asked for (e.g. weight gradients in a
/// saliency pass).
final class GradNode {
    let name: String
    let inputs: [GraphVertex]
    let backward: (_ gradOutput: Tensor, _ needsGradient: [Bool]) -> [Tensor?]

    init(name: String, inputs: [GraphVertex], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// Attaches a backward function to `output` when recording is on and any input needs a
    /// gradient. The closure must not capture `output` itself (that would be a reference cycle);
    /// capture `output.detached()` instead. It should capture only the values its backward reads
    /// (detached copies or shapes): the graph itself does not keep the inputs' storage.
    @discardableResult
    static func record(
        _ output: Tensor, name: String, inputs: [Tensor],
        backward: @escaping (Tensor, [Bool]) -> [Tensor?]
    ) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGradient }) else { return output }
        output.requiresGradient = true
        output.graphVertex.node = GradNode(name: name, inputs: inputs.map(\.graphVertex), backward: backward)
        return output
    }

    /// Whether ops on `inputs` will record history (used to skip saving backward state).
    static func willRecord(_ inputs: Tensor...) -> Bool {
        GradientMode.isEnabled && inputs.contains { $0.requiresGradient }
    }

    /// This tensor's vertex in the graph, made on first use.
    var graphVertex: GraphVertex {
        if let vertex { return vertex }
        let v = GraphVertex(tensor: self)
        vertex = v
        return v
    }

    /// How this tensor was computed, when recorded; nil for leaves.
    var gradNode: GradNode? { vertex?.node }
}
