import CyclexEngine

/// The explanation-guided gradient rules, applied at the pre-tanh output (docs/explanations.md#gradient-rules).
/// Maps have the image shape and are matched to the pre-tanh tensor element by element
/// (flattened for dense generators).
public enum GradientRules {
    /// xAI-CycleGAN (docs/explanations.md#xai-cyclegan-rule): g ← g + g ⊙ E, g the ordinary pre-tanh gradient.
    public static func xaiCycleGAN(explanation e: Tensor) -> OutputGradientRule {
        { gy, y in
            precondition(e.count == y.count, "explanation map \(e.shape) does not match generator output \(y.shape)")
            let g = Tensor.tanhGradient(gy, output: y)
            let r = Tensor(uninitializedShape: y.shape)
            Kernels.zip(g.pointer, e.pointer, r.pointer, count: r.count) { g, e in g + g * e }
            return r
        }
    }

    /// xAI-GAN (docs/explanations.md#xai-gan-rule): g ← g + α · g ⊙ M, α = 0.2.
    public static func xaiGAN(mask m: Tensor, alpha: Float = 0.2) -> OutputGradientRule {
        { gy, y in
            precondition(m.count == y.count, "explanation mask \(m.shape) does not match generator output \(y.shape)")
            let g = Tensor.tanhGradient(gy, output: y)
            let r = Tensor(uninitializedShape: y.shape)
            Kernels.zip(g.pointer, m.pointer, r.pointer, count: r.count) { g, m in g + alpha * g * m }
            return r
        }
    }

    /// LogicGAN (docs/explanations.md#logicgan-rule): the gradient w.r.t. the tanh *output* times M,
    /// tanh′ skipped (reference behaviour, reproduced for parity).
    public static func logicGAN(mask m: Tensor) -> OutputGradientRule {
        { gy, y in
            precondition(m.count == y.count, "explanation mask \(m.shape) does not match generator output \(y.shape)")
            let r = Tensor(uninitializedShape: y.shape)
            Kernels.zip(gy.pointer, m.pointer, r.pointer, count: r.count) { g, m in g * m }
            return r
        }
    }
}
