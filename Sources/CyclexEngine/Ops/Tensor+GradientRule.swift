/// Rewrites the gradient at a generator's pre-tanh activation: given dL/dy at the tanh
/// output y and y itself, returns the gradient to pass on to the pre-tanh tensor.
/// The plain rule is dL/dy · (1 − y²).
public typealias OutputGradientRule = (_ gradientAtOutput: Tensor, _ output: Tensor) -> Tensor

extension Tensor {
    /// y = tanh(x) whose backward uses `gradientRule` instead of the tanh derivative, so the
    /// explanation-guided methods can change the gradient at the pre-tanh activation of every
    /// generator call (xAI-CycleGAN g + g⊙E, xAI-GAN g + 0.2·g⊙M, LogicGAN dL/dy ⊙ M). This is
    /// the engine's only way to rewrite a gradient; the rules and the slot that attaches them
    /// live in `CyclexModels/Explanations`.
    public func tanh(gradientRule: OutputGradientRule?) -> Tensor {
        guard let gradientRule else { return tanh() }
        let out = Tensor(uninitializedShape: shape)
        Kernels.map(pointer, out.pointer, count: count, FastMath.tanh)
        let yd = out.detached()
        return Tensor.record(out, name: "tanhWithRule", inputs: [self]) { g, _ in [gradientRule(g, yd)] }
    }

    /// dL/dy · (1 − y²): the ordinary gradient at the pre-tanh activation.
    public static func tanhGradient(_ gradientAtOutput: Tensor, output y: Tensor) -> Tensor {
        let r = Tensor(uninitializedShape: y.shape)
        Kernels.zip(gradientAtOutput.pointer, y.pointer, r.pointer, count: r.count) { g, y in g * (1 - y * y) }
        return r
    }
}
