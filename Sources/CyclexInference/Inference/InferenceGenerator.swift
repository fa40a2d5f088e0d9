import CyclexEngine
import CyclexModels
import CyclexNN

/// A generator's forward pass for translation only (what `cyclex translate` runs per image or tile).
///
/// The same network as the training forward (`ResnetGenerator`, `XaiGenerator`), computed without
/// any autodiff bookkeeping: nothing is recorded or kept for a backward pass, each activation is
/// released as soon as the next layer has read it, instance norm and its activation overwrite the
/// conv output in one fused pass, residual and skip sums are added in place, and every
/// convolution's weights are transformed once (`InferenceConvolution`). The weights are read from
/// the generator's parameters by their checkpoint names when the forward is built; build a new one
/// after loading other weights.
///
/// With `.f32` the outputs equal the training forward's to float rounding (tests:
/// `InferenceForwardTests`); with `.bf16` the convolutions run on the bf16 kernel
/// (docs/translate.md#precision).
public final class InferenceGenerator {
    public let precision: InferencePrecision
    private let forward: (Tensor) -> Tensor

    /// The inference forward of a model's generator for `direction`.
    /// Throws `PrecisionUnavailableError` for `.bf16` on a CPU without AVX512_BF16.
    public init(generators: any GeneratorPair, direction: TranslationDirection, precision: InferencePrecision) throws {
        try precision.checkAvailable()
        self.precision = precision
        if let pair = generators as? CycleGANGenerators {
            let plan = ResnetPlan(direction == .aToB ? pair.a : pair.b, precision: precision)
            forward = { plan($0) }
        } else if let pair = generators as? XAICycleGANGenerators {
            let plan = XaiPlan(pair.generator(direction), precision: precision)
            // The fixed inference mask depends only on the shape: drawn once per shape, not per image.
            var mask: Tensor?
            forward = { x in
                if mask?.shape != x.shape { mask = pair.inferenceMask(like: x) }
                return plan(x, mask: mask!)
            }
        } else {
            preconditionFailure("no inference forward for \(type(of: generators))")
        }
    }

    /// [B, C, H, W] in [−1, 1] → [B, C, H, W], sides multiples of the model's stride. Call from one
    /// thread at a time (it keeps the last xAI mask).
    public func callAsFunction(_ x: Tensor) -> Tensor { withoutGradient { forward(x) } }
}

/// A module's parameters by checkpoint name.
private func parameters(of module: any Module) -> [String: Tensor] {
    Dictionary(module.namedParameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
}

/// Layers with at most this many outputs stay float32 at every precision: they are thin (the
/// direct kernel, no GEMM to speed up) and they write the image itself.
private let thinOutputChannels = 4

private func convolution(_ p: [String: Tensor], _ name: String, stride: Int = 1, padding: Int = 0,
                         precision: InferencePrecision) -> InferenceConvolution {
    guard let weight = p[name + ".weight"] else { preconditionFailure("generator has no parameter \(name).weight") }
    let layerPrecision = weight.shape[0] <= thinOutputChannels ? .f32 : precision
    return InferenceConvolution(weight: weight, bias: p[name + ".bias"], stride: stride, padding: padding,
                                precision: layerPrecision)
}

private func transposedConvolution(_ p: [String: Tensor], _ name: String, precision: InferencePrecision)
    -> InferenceTransposedConvolution
{
    guard let weight = p[name + ".weight"] else { preconditionFailure("generator has no parameter \(name).weight") }
    return InferenceTransposedConvolution(weight: weight, bias: p[name + ".bias"], stride: 2, padding: 1, outputPadding: 1,
                                          precision: precision)
}

/// Runs a layer (`conv`, evaluated inside), then instance norm + `activation` in place and, with
/// `adding`, the skip sum; timed as `name` when a layer profile is recorded.
private func normalized(
    _ name: @autoclosure () -> String, _ conv: @autoclosure () -> Tensor, activation: FusedActivation = .relu,
    adding skip: Tensor? = nil
) -> Tensor {
    timedLayer(name()) {
        let y = conv()
        InferenceOps.instanceNormalize(y, activation: activation)
        if let skip { InferenceOps.add(y, skip) }
        return y
    }
}

/// One residual block: x + IN(conv₂(ReflPad1(ReLU(IN(conv₁(ReflPad1(x))))))), docs/models.md#residual-block.
struct ResidualPlan {
    let conv1: InferenceConvolution, conv2: InferenceConvolution

    func callAsFunction(_ x: Tensor) -> Tensor {
        timedLayer("residual block \(conv1.shapeDescription)") {
            let h = conv1.normalized(x, reflectPadding: 1, activation: .relu)
            return conv2.normalized(h, reflectPadding: 1, activation: .none, adding: x)
        }
    }
}

/// junyanz's ResNet generator (docs/models.md#resnet-generator), parameters `model.<i>`.
struct ResnetPlan {
    let stem: InferenceConvolution, down1: InferenceConvolution, down2: InferenceConvolution
    let blocks: [ResidualPlan]
    let up1: InferenceTransposedConvolution, up2: InferenceTransposedConvolution
    let head: InferenceConvolution

    init(_ g: ResnetGenerator, precision: InferencePrecision) {
        let p = parameters(of: g), n = g.residualBlocks
        stem = convolution(p, "model.1", precision: precision)
        down1 = convolution(p, "model.4", stride: 2, padding: 1, precision: precision)
        down2 = convolution(p, "model.7", stride: 2, padding: 1, precision: precision)
        blocks = (0..<n).map { i in
            ResidualPlan(conv1: convolution(p, "model.\(10 + i).conv_block.1", precision: precision),
                         conv2: convolution(p, "model.\(10 + i).conv_block.5", precision: precision))
        }
        up1 = transposedConvolution(p, "model.\(10 + n)", precision: precision)
        up2 = transposedConvolution(p, "model.\(13 + n)", precision: precision)
        head = convolution(p, "model.\(17 + n)", precision: precision)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = normalized("stem \(stem.shapeDescription)", stem(x, reflectPadding: 3, normalizedNext: true))
        h = normalized("down1 \(down1.shapeDescription)", down1(h, normalizedNext: true))
        h = normalized("down2 \(down2.shapeDescription)", down2(h, normalizedNext: true))
        for block in blocks { h = block(h) }
        h = normalized("up1 \(up1.shapeDescription)", up1(h, normalizedNext: true))
        h = normalized("up2 \(up2.shapeDescription)", up2(h, normalizedNext: true))
        return timedLayer("head \(head.shapeDescription) + tanh") { head(h, reflectPadding: 3).tanh() }
    }
}

/// The xAI-CycleGAN generator (docs/models.md#xai-cyclegan-generator), parameters by attribute path.
struct XaiPlan {
    let maskFusion: InferenceConvolution, contextFusion: InferenceConvolution
    let enc1: InferenceConvolution, enc2: InferenceConvolution, enc3: InferenceConvolution, enc4: InferenceConvolution
    let blocks: [ResidualPlan]
    let dec1: InferenceTransposedConvolution, dec2: InferenceTransposedConvolution, dec3: InferenceTransposedConvolution
    let head: InferenceConvolution, final: InferenceConvolution
    let upActivation: FusedActivation

    init(_ g: XaiGenerator, precision: InferencePrecision) {
        let p = parameters(of: g)
        func conv(_ name: String, stride: Int = 1, padding: Int = 0) -> InferenceConvolution {
            convolution(p, name + ".conv", stride: stride, padding: padding, precision: precision)
        }
        maskFusion = conv("mask_fusion")
        contextFusion = conv("context_fusion")
        enc1 = conv("enc1")
        enc2 = conv("enc2", stride: 2, padding: 1)
        enc3 = conv("enc3", stride: 2, padding: 1)
        enc4 = conv("enc4", stride: 2, padding: 1)
        blocks = (0..<g.residualBlocks).map { i in
            ResidualPlan(conv1: convolution(p, "res_blocks.\(i).conv1", precision: precision),
                         conv2: convolution(p, "res_blocks.\(i).conv2", precision: precision))
        }
        dec1 = transposedConvolution(p, "dec1.deconv", precision: precision)
        dec2 = transposedConvolution(p, "dec2.deconv", precision: precision)
        dec3 = transposedConvolution(p, "dec3.deconv", precision: precision)
        head = conv("head")
        final = conv("final")
        upActivation = g.upActivation == .leakyRelu ? .leakyRelu(0.2) : .relu
    }

    func callAsFunction(_ x: Tensor, mask m: Tensor) -> Tensor {
        precondition(x.shape == m.shape, "mask \(m.shape) must have the image's shape \(x.shape)")
        let (u, c) = timedLayer("mask fusion 1×1 6→3 (×2)") {
            InferenceOps.maskFusion(x, mask: m, weightU: maskFusion.weight, biasU: maskFusion.bias,
                                    weightC: contextFusion.weight, biasC: contextFusion.bias)
        }
        let e1 = normalized("enc1 \(enc1.shapeDescription)", enc1(u, reflectPadding: 3, normalizedNext: true))
        let e2 = normalized("enc2 \(enc2.shapeDescription)", enc2(e1, normalizedNext: true))
        let e3 = normalized("enc3 \(enc3.shapeDescription)", enc3(e2, normalizedNext: true))
        let e4 = normalized("enc4 \(enc4.shapeDescription)", enc4(e3, normalizedNext: true))
        var r = e4
        for block in blocks { r = block(r) }
        // The skip sums overwrite the decoder's inputs, never the encoder outputs they add.
        if r === e4 { r = e4.copy() }
        InferenceOps.add(r, e4)
        let d1 = normalized("dec1 \(dec1.shapeDescription)", dec1(r, normalizedNext: true), activation: upActivation, adding: e3)
        let d2 = normalized("dec2 \(dec2.shapeDescription)", dec2(d1, normalizedNext: true), activation: upActivation, adding: e2)
        let d3 = normalized("dec3 \(dec3.shapeDescription)", dec3(d2, normalizedNext: true), activation: upActivation, adding: e1)
        let h = normalized("head \(head.shapeDescription)", head(d3, reflectPadding: 3, normalizedNext: true))
        return timedLayer("final \(final.shapeDescription) + tanh + context") {
            let y = final(h, reflectPadding: 1)
            InferenceOps.tanhAdding(y, c)
            return y
        }
    }
}
