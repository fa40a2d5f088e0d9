import CyclexEngine
import CyclexModels

/// The xAI-CycleGAN generator's inference-only forward (`XaiPlan`, the same as `InferenceGenerator`
/// runs) under a mask chosen by the caller, in float32: what the xAI training step's first pass
/// needs (each generator's output under the drawn noise mask, no gradient;
/// docs/training.md#xai-cyclegan-step).
///
/// Build one per use after the weights changed: the plan reads the generator's parameters and
/// transforms them on first use. Outputs equal `XaiGenerator.callAsFunction(_:mask:)`'s to float
/// rounding (`InferenceForwardTests`, and the xAI step fixtures through the training step).
/// x, mask: [B, C, H, W], sides multiples of 8 → [B, C, H, W].
public struct XaiInferenceForward {
    private let plan: XaiPlan

    public init(_ generator: XaiGenerator) { plan = XaiPlan(generator, precision: .f32) }

    public func callAsFunction(_ x: Tensor, mask: Tensor) -> Tensor { withoutGradient { plan(x, mask: mask) } }
}
