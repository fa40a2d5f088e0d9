/// The recorded history of one op's output: its inputs and how to map the output's gradient
/// to theirs. `backward(gradOutput, needsGradient)` returns one entry per input (nil where the
/// input needs none), so kernels skip work nobody asked for (e.g. weight gradients in a
/// saliency pass).
final class GradNode {
    let name: String
    let inputs: [Tensor]
    let backward: (_ gradOutput: Tensor, _ needsGradient: [Bool]) -> [Tensor?]

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// Attaches a backward function to `output` when recording is on and any input needs a
    /// gradient. The closure must not capture `output` itself (that would be a reference cycle);
    /// capture `output.detached()` instead.
    @discardableResult
    static func record(
        _ output: Tensor, name: String, inputs: [Tensor],
        backward: @escaping (Tensor, [Bool]) -> [Tensor?]
    ) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGradient }) else { return output }
        output.requiresGradient = true
        output.gradNode = GradNode(name: name, inputs: inputs, backward: backward)
        return output
    }

    /// Whether ops on `inputs` will record history (used to skip saving backward state).
    static func willRecord(_ inputs: Tensor...) -> Bool {
        GradientMode.isEnabled && inputs.contains { $0.requiresGradient }
    }
}
