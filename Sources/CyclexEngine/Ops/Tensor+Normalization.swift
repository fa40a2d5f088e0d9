/// Instance and batch normalisation.
extension Tensor {
    /// PyTorch `InstanceNorm2d` without affine or running statistics: each [b, c] plane of
    /// [B, C, H, W] is shifted to mean 0 and divided by √(biased variance + ε).
    public func instanceNormalized(epsilon: Float = 1e-5) -> Tensor {
        precondition(rank == 4, "instanceNormalized needs [B, C, H, W], got \(shape)")
        let planes = shape[0] * shape[1], n = shape[2] * shape[3]
        let out = Tensor(uninitializedShape: shape)
        let inverseStd = Tensor(uninitializedShape: [planes])
        let px = pointer, py = out.pointer, pr = inverseStd.pointer
        Parallel.forRanges(planes, minimumChunk: max(1, 8_192 / n)) { range in
            for plane in range {
                let x = px + plane * n, y = py + plane * n
                let r = Kernels.centerPlane(x, into: y, count: n, epsilon: epsilon).inverseStd
                pr[plane] = r
                for i in 0..<n { y[i] *= r }
            }
        }
        guard Tensor.willRecord(self) else { return out }
        let yd = out.detached()
        return Tensor.record(out, name: "instanceNorm", inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: yd.shape)
            // Keep `inverseStd` alive through the backward (a raw pointer would not).
            let pg = g.pointer, py = yd.pointer, pgx = gx.pointer, pr = inverseStd.pointer
            Parallel.forRanges(planes, minimumChunk: max(1, 8_192 / n)) { range in
                for plane in range {
                    let gp = pg + plane * n, y = py + plane * n, d = pgx + plane * n
                    let meanG = Float(Kernels.sumDouble(gp, count: n) / Double(n))
                    let meanGY = Float(Kernels.dot(gp, y, count: n) / Double(n))
                    let r = pr[plane]
                    for i in 0..<n { d[i] = r * (gp[i] - meanG - y[i] * meanGY) }
                }
            }
            return [gx]
        }
    }

    /// PyTorch `BatchNorm2d` over [B, C, H, W] with affine `weight`/`bias` [C].
    ///
    /// Training: normalises with the batch mean and biased variance over (B, H, W) and updates
    /// the running statistics in place: r ← (1 − momentum)·r + momentum·stat, with the unbiased
    /// variance. Evaluation: normalises with the running statistics.
    public func batchNormalized(
        weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor,
        isTraining: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5
    ) -> Tensor {
        precondition(rank >= 2 && weight.count == shape[1], "batchNormalized: input \(shape), weight \(weight.shape)")
        let (batch, channels) = (shape[0], shape[1])
        let plane = count / (batch * channels)
        let m = batch * plane
        var means = [Float](repeating: 0, count: channels)
        var inverseStds = [Float](repeating: 0, count: channels)
        let px = pointer
        for c in 0..<channels {
            if isTraining {
                var s: Double = 0
                for b in 0..<batch { s += Kernels.sumDouble(px + (b * channels + c) * plane, count: plane) }
                let mean = s / Double(m)
                var ss: Double = 0
                for b in 0..<batch {
                    let x = px + (b * channels + c) * plane
                    for i in 0..<plane { let d = Double(x[i]) - mean; ss += d * d }
                }
                let variance = ss / Double(m)
                means[c] = Float(mean)
                inverseStds[c] = Float(1 / (variance + Double(epsilon)).squareRoot())
                let unbiased = m > 1 ? ss / Double(m - 1) : variance
                runningMean.pointer[c] = (1 - momentum) * runningMean.pointer[c] + momentum * Float(mean)
                runningVariance.pointer[c] = (1 - momentum) * runningVariance.pointer[c] + momentum * Float(unbiased)
            } else {
                means[c] = runningMean.pointer[c]
                inverseStds[c] = 1 / (runningVariance.pointer[c] + epsilon).squareRoot()
            }
        }
        let normalized = Tensor(uninitializedShape: shape)
        let out = Tensor(uninitializedShape: shape)
        for b in 0..<batch {
            for c in 0..<channels {
                let offset = (b * channels + c) * plane
                let (mean, r, gamma, beta) = (means[c], inverseStds[c], weight.pointer[c], bias.pointer[c])
                let x = px + offset, xh = normalized.pointer + offset, y = out.pointer + offset
                for i in 0..<plane { xh[i] = (x[i] - mean) * r; y[i] = xh[i] * gamma + beta }
            }
        }
        guard Tensor.willRecord(self, weight, bias) else { return out }
        let wd = weight.detached()
        return Tensor.record(out, name: "batchNorm", inputs: [self, weight, bias]) { g, needs in
            let gx = Tensor(uninitializedShape: g.shape)
            let gw = Tensor(uninitializedShape: [channels]), gb = Tensor(uninitializedShape: [channels])
            for c in 0..<channels {
                var sumG: Double = 0, sumGX: Double = 0
                for b in 0..<batch {
                    let offset = (b * channels + c) * plane
                    sumG += Kernels.sumDouble(g.pointer + offset, count: plane)
                    sumGX += Kernels.dot(g.pointer + offset, normalized.pointer + offset, count: plane)
                }
                gw.pointer[c] = Float(sumGX); gb.pointer[c] = Float(sumG)
                let scale = wd.pointer[c] * inverseStds[c]
                let (meanG, meanGX) = (Float(sumG / Double(m)), Float(sumGX / Double(m)))
                for b in 0..<batch {
                    let offset = (b * channels + c) * plane
                    let gp = g.pointer + offset, xh = normalized.pointer + offset, d = gx.pointer + offset
                    if isTraining {
                        for i in 0..<plane { d[i] = scale * (gp[i] - meanG - xh[i] * meanGX) }
                    } else {
                        for i in 0..<plane { d[i] = scale * gp[i] }
                    }
                }
            }
            return [needs[0] ? gx : nil, needs[1] ? gw : nil, needs[2] ? gb : nil]
        }
    }
}
