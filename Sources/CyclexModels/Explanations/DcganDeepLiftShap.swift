import CyclexEngine
import CyclexNN
import Foundation

/// DeepLiftShap of the DCGAN discriminator (docs/explanations.md#deepshap) by the rescale rule's
/// backward alone, BatchNorm in evaluation mode.
///
/// Every stage is affine (convolution, or convolution and BatchNorm on running statistics), so a
/// pair's pre-activations are those of its input and of its baseline: one forward of the R
/// explained inputs and one of the K baselines give every pair's secant slopes. The multipliers
/// then go back through the stages for all K baselines of an input at once: times the slopes
/// (and BatchNorm's γ/√(var + ε)), then the convolution's transpose as one product
/// Wᵀ·G ([Cin·k², Cout]·[Cout, K·oh·ow]) and a fold of the columns back into the input grid.
/// Nothing runs forward on the R·K pairs and no weight gradient is formed: against the autodiff
/// version (`rescaleDeepLiftShap(stages:)`, which records a forward of K rows per input to get the
/// same backward) this drops about two thirds of the multiply-adds. The values agree to float
/// rounding (DcganDeepLiftShapTests).
///
/// Layouts inside: channel-major [C, K, H·W] (a channel's planes of all K pairs side by side), so
/// that the product's columns are the pairs' pixels and no transposes are needed between stages.
extension GANExplanations {
    /// Mean attributions [B, C, H, W] over the K baselines for the rows marked in `explain` (all
    /// when nil; the others are 0), and when `keepPairs` the per-pair ones [B, K, C, H, W]. The
    /// norms' modes are restored.
    public static func deepLiftShap(
        of discriminator: DcganDiscriminator, inputs: Tensor, baselines: Tensor, explain: [Bool]? = nil,
        keepPairs: Bool = false
    ) -> (attributions: Tensor, perBaseline: Tensor?) {
        let (k, d) = (baselines.shape[0], inputs.count / inputs.shape[0])
        let setUp = deepShapSetUp(inputs: inputs, baselines: baselines, explain: explain, keepPairs: keepPairs)
        let (rows, mean, perPair) = (setUp.rows, setUp.mean, setUp.perPair)
        guard let x = setUp.explained else { return (mean, perPair) }

        let was = discriminator.norms.map(\.isTraining)
        discriminator.norms.forEach { $0.isTraining = false }
        defer { zip(discriminator.norms, was).forEach { $0.isTraining = $1 } }
        let stages = discriminator.affineStages
        let (forwardX, forwardB) = withoutGradient { (activations(stages, x), activations(stages, baselines)) }

        // Per stage: the convolution whose input the multipliers go back to, and the factor of
        // the BatchNorm between it and the nonlinearity (nil: none).
        let convs = [discriminator.input, discriminator.hidden1, discriminator.hidden2, discriminator.out]
        let normScales: [[Float]?] = [nil, discriminator.norms[0].evaluationScale, discriminator.norms[1].evaluationScale, nil]
        let imageShape = Array(inputs.shape.dropFirst())

        for (r, i) in rows.enumerated() {
            // G = ∂/∂(stage output) in [C, K, P]; the sigmoid's output has one unit: G = 1.
            var g = [Float](repeating: 1, count: k)
            for l in stride(from: stages.count - 1, through: 0, by: -1) {
                let pre = forwardX[l].pre
                let (channels, plane) = (pre.shape[1], pre.count / (pre.shape[0] * pre.shape[1]))
                let width = channels * plane
                multiplyBySlopes(&g, channels: channels, pairs: k, plane: plane,
                                 ax: forwardX[l].pre.pointer + r * width, fx: forwardX[l].post.pointer + r * width,
                                 ab: forwardB[l].pre.pointer, fb: forwardB[l].post.pointer, sigmoid: l == stages.count - 1,
                                 scale: normScales[l])
                let inputShape = l == 0 ? imageShape : Array(forwardX[l - 1].pre.shape.dropFirst())
                g = convolutionInputGradient(g, conv: convs[l], pairs: k, outputHeight: pre.shape[2], outputWidth: pre.shape[3],
                                             inputChannels: inputShape[0], inputHeight: inputShape[1], inputWidth: inputShape[2])
            }
            // g is m [C, K, H·W]: attribution (xᵢ − b_j) ⊙ m_j, averaged over j.
            let (channels, plane) = (imageShape[0], d / imageShape[0])
            let xi = inputs.pointer + i * d, out = mean.pointer + i * d
            let scale = 1 / Float(k)
            g.withUnsafeBufferPointer { m in
                for c in 0..<channels {
                    for j in 0..<k {
                        let mj = m.baseAddress! + (c * k + j) * plane
                        let bj = baselines.pointer + j * d + c * plane
                        let xc = xi + c * plane, oc = out + c * plane
                        for q in 0..<plane {
                            let a = (xc[q] - bj[q]) * mj[q]
                            oc[q] += a * scale
                            if let perPair { perPair.pointer[(i * k + j) * d + c * plane + q] = a }
                        }
                    }
                }
            }
        }
        return (mean, perPair)
    }

    /// g[c, j, q] ← g[c, j, q] · slope(input's unit (c, q), baseline j's unit (c, q)) · scale[c]
    /// (`secantSlopes`), for one input against all `pairs` baselines; the activations are
    /// [C, P] for the input and [K, C, P] for the baselines.
    static func multiplyBySlopes(
        _ g: inout [Float], channels: Int, pairs k: Int, plane: Int, ax: UnsafePointer<Float>, fx: UnsafePointer<Float>,
        ab: UnsafePointer<Float>, fb: UnsafePointer<Float>, sigmoid: Bool, scale: [Float]?
    ) {
        precondition(g.count == channels * k * plane, "multipliers \(g.count) for [\(channels), \(k), \(plane)]")
        let width = channels * plane
        var slopes = [Float](repeating: 0, count: plane)
        g.withUnsafeMutableBufferPointer { gp in
            slopes.withUnsafeMutableBufferPointer { s in
                for c in 0..<channels {
                    let factor = scale?[c] ?? 1
                    for j in 0..<k {
                        secantSlopes(ax: ax + c * plane, fx: fx + c * plane, ab: ab + j * width + c * plane,
                                     fb: fb + j * width + c * plane, into: s.baseAddress!, count: plane, sigmoid: sigmoid)
                        let row = gp.baseAddress! + (c * k + j) * plane
                        for q in 0..<plane { row[q] *= s[q] * factor }
                    }
                }
            }
        }
    }

    /// The input gradient of `conv` (zero padding, no bias) for `pairs` upstream gradients held
    /// channel-major: g [Cout, K, oh·ow] → [Cin, K, H·W]. One product Wᵀ·g gives the columns
    /// [Cin·kh·kw, K·oh·ow]; each column entry is added into the input pixel its tap read.
    static func convolutionInputGradient(
        _ g: [Float], conv: Conv2d, pairs k: Int, outputHeight oh: Int, outputWidth ow: Int,
        inputChannels cin: Int, inputHeight h: Int, inputWidth w: Int
    ) -> [Float] {
        let weight = conv.weight
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        precondition(weight.shape[1] == cin && g.count == cout * k * oh * ow,
                     "conv backward: weight \(weight.shape), \(g.count) multipliers for [\(cout), \(k), \(oh)×\(ow)]")
        let (stride, padding) = (conv.stride, conv.padding)
        let patch = cin * kh * kw, columns = k * oh * ow
        let cols = TensorStorage(count: patch * columns)
        g.withUnsafeBufferPointer { gp in
            BLAS.sgemm(transposeA: true, m: patch, n: columns, k: cout, a: weight.pointer, lda: patch,
                       b: gp.baseAddress!, ldb: columns, c: cols.pointer, ldc: columns)
        }
        var dx = [Float](repeating: 0, count: cin * k * h * w)
        // The K pairs' column blocks side by side in cols, their [H·W] planes side by side in each
        // channel of dx: one fold over channels, all taps of a pair's plane while it is in cache.
        let geometry = ConvGeometry(
            channels: cin, height: h, width: w, kernelHeight: kh, kernelWidth: kw, stride: stride, padding: padding,
            outputHeight: oh, outputWidth: ow)
        dx.withUnsafeMutableBufferPointer { out in
            Kernels.col2im(cols.pointer, geometry, out.baseAddress!, outputRows: nil, rowStride: columns, images: k,
                           channelStride: k * h * w, imageStride: h * w)
        }
        return dx
    }
}

extension BatchNorm2d {
    /// γ/√(running var + ε) per channel: what evaluation-mode BatchNorm multiplies a gradient by
    /// (the same Float arithmetic as the training op's evaluation branch).
    var evaluationScale: [Float] {
        (0..<weight.count).map { weight.pointer[$0] * (1 / (runningVariance.pointer[$0] + epsilon).squareRoot()) }
    }
}
