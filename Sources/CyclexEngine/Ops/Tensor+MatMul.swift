/// Matrix products on OpenBLAS.
extension Tensor {
    /// a [M, K] · b [K, N] → [M, N].
    public static func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[0], "matmul: \(a.shape) · \(b.shape)")
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let out = Tensor(uninitializedShape: [m, n])
        BLAS.sgemm(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: out.pointer, ldc: n)
        let (ad, bd) = (a.detached(), b.detached())
        return record(out, name: "matmul", inputs: [a, b]) { g, needs in
            var ga: Tensor?, gb: Tensor?
            if needs[0] {
                ga = Tensor(uninitializedShape: [m, k])
                BLAS.sgemm(transposeB: true, m: m, n: k, k: n, a: g.pointer, lda: n, b: bd.pointer, ldb: n,
                           c: ga!.pointer, ldc: k)
            }
            if needs[1] {
                gb = Tensor(uninitializedShape: [k, n])
                BLAS.sgemm(transposeA: true, m: k, n: n, k: m, a: ad.pointer, lda: k, b: g.pointer, ldb: n,
                           c: gb!.pointer, ldc: n)
            }
            return [ga, gb]
        }
    }

    /// PyTorch `Linear`: x [B, in] · weightᵀ (weight [out, in]) + bias [out] → [B, out].
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(rank == 2 && weight.rank == 2 && weight.shape[1] == shape[1],
                     "linear: input \(shape) does not match weight \(weight.shape) ([out, in])")
        let (batch, inFeatures, outFeatures) = (shape[0], shape[1], weight.shape[0])
        let out = Tensor(uninitializedShape: [batch, outFeatures])
        if let bias {
            for b in 0..<batch { (out.pointer + b * outFeatures).update(from: bias.pointer, count: outFeatures) }
        }
        BLAS.sgemm(transposeB: true, m: batch, n: outFeatures, k: inFeatures, a: pointer, lda: inFeatures,
                   b: weight.pointer, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: out.pointer, ldc: outFeatures)
        guard Tensor.willRecord(self, weight) || (bias.map { Tensor.willRecord($0) } ?? false) else { return out }
        let (xd, wd) = (detached(), weight.detached())
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.record(out, name: "linear", inputs: inputs) { g, needs in
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            if needs[0] {
                gx = Tensor(uninitializedShape: [batch, inFeatures])
                BLAS.sgemm(m: batch, n: inFeatures, k: outFeatures, a: g.pointer, lda: outFeatures,
                           b: wd.pointer, ldb: inFeatures, c: gx!.pointer, ldc: inFeatures)
            }
            if needs[1] {
                gw = Tensor(uninitializedShape: [outFeatures, inFeatures])
                BLAS.sgemm(transposeA: true, m: outFeatures, n: inFeatures, k: batch, a: g.pointer, lda: outFeatures,
                           b: xd.pointer, ldb: inFeatures, c: gw!.pointer, ldc: inFeatures)
            }
            if bias != nil && needs[2] {
                let r = Tensor(zeros: [outFeatures])
                for b in 0..<batch { Kernels.addInPlace(r.pointer, g.pointer + b * outFeatures, count: outFeatures) }
                gb = r
            }
            return bias != nil ? [gx, gw, gb] : [gx, gw]
        }
    }
}
