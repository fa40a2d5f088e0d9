import CyclexEngine
import Foundation

/// InceptionV3 pool3 features in cyclex's engine (inference only, no gradients).
///
/// Input [N, 3, 299, 299] in the TF graph's range [−1, 1) (see `InceptionPreprocessing`);
/// output [N, 2048]. Batch normalisation is folded into each convolution once at load:
/// w' = w / √(var + ε), b' = beta − mean / √(var + ε).
public final class InceptionV3 {
    struct FoldedConv {
        let spec: InceptionConvSpec
        let weight: Tensor, bias: Tensor
    }

    let convs: [String: FoldedConv]

    /// `tensors` maps `<layer>.weight|beta|mean|var` to values; shapes must already be validated
    /// against `InceptionArchitecture.tensorShapes` (as `InceptionWeights` does).
    init(tensors: [String: [Float]]) {
        var convs: [String: FoldedConv] = [:]
        for spec in InceptionArchitecture.convolutions {
            let w = tensors["\(spec.name).weight"]!, beta = tensors["\(spec.name).beta"]!
            let mean = tensors["\(spec.name).mean"]!, variance = tensors["\(spec.name).var"]!
            let perOutput = spec.inputChannels * spec.kernelHeight * spec.kernelWidth
            var folded = w, bias = [Float](repeating: 0, count: spec.outputChannels)
            for o in 0..<spec.outputChannels {
                let scale = 1 / (Double(variance[o]) + InceptionArchitecture.batchNormEpsilon).squareRoot()
                for i in 0..<perOutput { folded[o * perOutput + i] = Float(Double(w[o * perOutput + i]) * scale) }
                bias[o] = Float(Double(beta[o]) - Double(mean[o]) * scale)
            }
            convs[spec.name] = FoldedConv(spec: spec, weight: Tensor(shape: spec.weightShape, scalars: folded),
                                          bias: Tensor(shape: [spec.outputChannels], scalars: bias))
        }
        self.convs = convs
    }

    /// [N, 3, 299, 299] → [N, 2048].
    public func features(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 3 && x.shape[2] == InceptionArchitecture.inputSize
                     && x.shape[3] == InceptionArchitecture.inputSize, "InceptionV3 needs [N, 3, 299, 299], got \(x.shape)")
        return withoutGradient {
            var h = conv("conv", x)
            h = conv("conv_1", h)
            h = conv("conv_2", h)
            h = Self.maxPool3x3(h, stride: 2, padding: 0)
            h = conv("conv_3", h)
            h = conv("conv_4", h)
            h = Self.maxPool3x3(h, stride: 2, padding: 0)
            for block in ["mixed", "mixed_1", "mixed_2"] { h = inceptionA(block, h) }
            h = inceptionB(h)
            for block in ["mixed_4", "mixed_5", "mixed_6", "mixed_7"] { h = inceptionC(block, h) }
            h = inceptionD(h)
            h = inceptionE("mixed_9", h, maxPool: false)
            h = inceptionE("mixed_10", h, maxPool: true)
            return Self.globalMean(h)
        }
    }

    func conv(_ name: String, _ x: Tensor) -> Tensor {
        let c = convs[name]!
        let s = c.spec
        if s.padHeight == s.padWidth {
            return x.conv2d(weight: c.weight, bias: c.bias, stride: s.stride, padding: s.padHeight).relu()
        }
        let padded = x.padded(top: s.padHeight, bottom: s.padHeight, left: s.padWidth, right: s.padWidth, mode: .zero)
        return padded.conv2d(weight: c.weight, bias: c.bias, stride: s.stride, padding: 0).relu()
    }

    func inceptionA(_ b: String, _ x: Tensor) -> Tensor {
        let branch1 = conv("\(b).conv", x)
        let branch5 = conv("\(b).tower.conv_1", conv("\(b).tower.conv", x))
        let branch3 = conv("\(b).tower_1.conv_2", conv("\(b).tower_1.conv_1", conv("\(b).tower_1.conv", x)))
        let pool = conv("\(b).tower_2.conv", Self.averagePool3x3ExcludingPadding(x))
        return Tensor.concatenate([branch1, branch5, branch3, pool], alongAxis: 1)
    }

    func inceptionB(_ x: Tensor) -> Tensor {
        let branch3 = conv("mixed_3.conv", x)
        let tower = conv("mixed_3.tower.conv_2", conv("mixed_3.tower.conv_1", conv("mixed_3.tower.conv", x)))
        return Tensor.concatenate([branch3, tower, Self.maxPool3x3(x, stride: 2, padding: 0)], alongAxis: 1)
    }

    func inceptionC(_ b: String, _ x: Tensor) -> Tensor {
        let branch1 = conv("\(b).conv", x)
        var tower = conv("\(b).tower.conv", x)
        for layer in ["conv_1", "conv_2"] { tower = conv("\(b).tower.\(layer)", tower) }
        var tower1 = conv("\(b).tower_1.conv", x)
        for layer in ["conv_1", "conv_2", "conv_3", "conv_4"] { tower1 = conv("\(b).tower_1.\(layer)", tower1) }
        let pool = conv("\(b).tower_2.conv", Self.averagePool3x3ExcludingPadding(x))
        return Tensor.concatenate([branch1, tower, tower1, pool], alongAxis: 1)
    }

    func inceptionD(_ x: Tensor) -> Tensor {
        let tower = conv("mixed_8.tower.conv_1", conv("mixed_8.tower.conv", x))
        var tower1 = conv("mixed_8.tower_1.conv", x)
        for layer in ["conv_1", "conv_2", "conv_3"] { tower1 = conv("mixed_8.tower_1.\(layer)", tower1) }
        return Tensor.concatenate([tower, tower1, Self.maxPool3x3(x, stride: 2, padding: 0)], alongAxis: 1)
    }

    /// The last two blocks; the TF graph's final block pools with max instead of average.
    func inceptionE(_ b: String, _ x: Tensor, maxPool: Bool) -> Tensor {
        let branch1 = conv("\(b).conv", x)
        let a = conv("\(b).tower_conv", x)
        let c = conv("\(b).tower_1_conv_1", conv("\(b).tower_1_conv", x))
        let pooled = maxPool ? Self.maxPool3x3(x, stride: 1, padding: 1) : Self.averagePool3x3ExcludingPadding(x)
        return Tensor.concatenate([
            branch1, conv("\(b).tower_mixed_conv", a), conv("\(b).tower_mixed_conv_1", a),
            conv("\(b).tower_1_mixed_conv", c), conv("\(b).tower_1_mixed_conv_1", c), conv("\(b).tower_2_conv", pooled),
        ], alongAxis: 1)
    }

    // MARK: - Pooling kernels (forward only)

    /// 3×3 max pooling; padded cells never win (PyTorch's −∞ padding).
    static func maxPool3x3(_ x: Tensor, stride: Int, padding: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + 2 * padding - 3) / stride + 1, ow = (w + 2 * padding - 3) / stride + 1
        let out = Tensor(uninitializedShape: [n, c, oh, ow])
        let src = x.pointer, dst = out.pointer
        Parallel.forRanges(n * c, minimumChunk: 1) { planes in
            for p in planes {
                let s = src + p * h * w, d = dst + p * oh * ow
                for i in 0..<oh {
                    for j in 0..<ow {
                        var best = -Float.infinity
                        for di in 0..<3 {
                            let y = i * stride - padding + di
                            guard y >= 0 && y < h else { continue }
                            for dj in 0..<3 {
                                let xx = j * stride - padding + dj
                                if xx >= 0 && xx < w { best = max(best, s[y * w + xx]) }
                            }
                        }
                        d[i * ow + j] = best
                    }
                }
            }
        }
        return out
    }

    /// 3×3 average pooling, stride 1, padding 1, dividing by the number of real (unpadded)
    /// cells (`count_include_pad=False`, as the TF graph).
    static func averagePool3x3ExcludingPadding(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = Tensor(uninitializedShape: [n, c, h, w])
        let src = x.pointer, dst = out.pointer
        Parallel.forRanges(n * c, minimumChunk: 1) { planes in
            for p in planes {
                let s = src + p * h * w, d = dst + p * h * w
                for i in 0..<h {
                    let y0 = max(i - 1, 0), y1 = min(i + 1, h - 1)
                    for j in 0..<w {
                        let x0 = max(j - 1, 0), x1 = min(j + 1, w - 1)
                        var sum: Float = 0
                        for y in y0...y1 { for xx in x0...x1 { sum += s[y * w + xx] } }
                        d[i * w + j] = sum / Float((y1 - y0 + 1) * (x1 - x0 + 1))
                    }
                }
            }
        }
        return out
    }

    /// Mean over each 8×8 plane (the graph's 8×8 average pool on the 8×8 map): [N, C, H, W] → [N, C].
    static func globalMean(_ x: Tensor) -> Tensor {
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let out = Tensor(uninitializedShape: [n, c])
        for p in 0..<(n * c) {
            var sum: Double = 0
            for k in 0..<hw { sum += Double(x.pointer[p * hw + k]) }
            out.pointer[p] = Float(sum / Double(hw))
        }
        return out
    }
}
