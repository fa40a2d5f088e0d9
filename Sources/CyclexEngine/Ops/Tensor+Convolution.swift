/// 2-D convolution (PyTorch `Conv2d`: cross-correlation, zero padding, dilation 1, groups 1)
/// as im2col + sgemm, one image of the batch at a time; 3×3 stride-1 convolutions between wide
/// layers use Winograd F(2×2, 3×3) for the output and all gradients instead
/// (`WinogradConvolution`), very thin outputs a direct kernel (`DirectConvolution`).
extension Tensor {
    /// x [B, Cin, H, W] ⋆ weight [Cout, Cin, kh, kw] (+ bias [Cout]) → [B, Cout, outH, outW],
    /// outH = ⌊(H + 2·padding − kh) / stride⌋ + 1.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[1],
                     "conv2d: input \(shape) does not match weight \(weight.shape) ([Cout, Cin, kh, kw])")
        let (batch, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let outH = (h + 2 * padding - kh) / stride + 1, outW = (w + 2 * padding - kw) / stride + 1
        precondition(outH > 0 && outW > 0, "conv2d: input \(shape) is smaller than kernel \(kh)x\(kw) with padding \(padding)")
        let geometry = ConvGeometry(
            channels: cin, height: h, width: w, kernelHeight: kh, kernelWidth: kw, stride: stride,
            padding: padding, outputHeight: outH, outputWidth: outW)
        let out = Tensor(uninitializedShape: [batch, cout, outH, outW])
        // A parameter's (leaf's) transform is kept for the rest of a training step (`WinogradWeightCache`).
        let cachesTransform = weight.requiresGradient && weight.vertex?.node == nil
        if Self.usesSmallNWinograd(geometry, outputChannels: cout) {
            let packed = WinogradWeightCache.smallNWeights(of: weight, outputChannels: cout, inputChannels: cin,
                                                           rotatedTranspose: false, cacheable: cachesTransform)
            WinogradConvolution.convolve(
                pointer, transformedWeights: nil, smallN: packed.pointer, bias: bias?.pointer, into: out.pointer,
                batch: batch, inputChannels: cin, outputChannels: cout, height: h, width: w, padding: padding)
        } else if Self.usesWinograd(geometry, outputChannels: cout) {
            let u = WinogradWeightCache.forwardTransform(of: weight, outputChannels: cout, inputChannels: cin,
                                                         cacheable: cachesTransform)
            WinogradConvolution.convolve(
                pointer, transformedWeights: u.pointer, bias: bias?.pointer, into: out.pointer, batch: batch,
                inputChannels: cin, outputChannels: cout, height: h, width: w, padding: padding)
        } else {
            convolveByIm2col(weight: weight, bias: bias, geometry: geometry, into: out)
        }
        guard Tensor.willRecord(self, weight) || (bias.map { Tensor.willRecord($0) } ?? false) else { return out }
        // The weight gradient reads x, the input gradient reads the weight: keep only what can be read.
        let (xd, wd) = (weight.requiresGradient ? detached() : nil, requiresGradient ? weight.detached() : nil)
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        let (xShape, wShape) = (shape, weight.shape)
        return Tensor.record(out, name: "conv2d", inputs: inputs) { g, needs in
            Tensor.conv2dBackward(g, x: xd, xShape: xShape, weight: wd, weightShape: wShape, geometry: geometry,
                                  needs: needs, hasBias: bias != nil, cachesWeightTransform: cachesTransform)
        }
    }

    /// The forward pass as im2col + sgemm (or the direct kernel), image by image.
    private func convolveByIm2col(weight: Tensor, bias: Tensor?, geometry: ConvGeometry, into out: Tensor) {
        let (batch, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let k = geometry.patchSize, n = geometry.outputPixels
        let isPointwise = kh == 1 && kw == 1 && geometry.stride == 1 && geometry.padding == 0
        let isDirect = Self.usesDirectConvolution(geometry, outputChannels: cout)
        let bands = Kernels.im2colBands(geometry)
        let cols = isPointwise || isDirect ? nil : TensorStorage(count: k * Self.largestBand(bands, geometry))
        for b in 0..<batch {
            let xb = pointer + b * cin * h * w, yb = out.pointer + b * cout * n
            if bias != nil || isDirect {
                for co in 0..<cout { (yb + co * n).update(repeating: bias?.pointer[co] ?? 0, count: n) }
            }
            if isDirect {
                DirectConvolution.forward(
                    x: xb, weight: weight.pointer, y: yb, inputChannels: cin, outputChannels: cout, height: h, width: w,
                    kernelHeight: kh, kernelWidth: kw)
                continue
            }
            guard let cols else {
                BLAS.sgemm(m: cout, n: n, k: k, a: weight.pointer, lda: k, b: xb, ldb: n,
                           beta: bias == nil ? 0 : 1, c: yb, ldc: n)
                continue
            }
            for band in bands {
                let bandPixels = band.count * geometry.outputWidth
                Kernels.im2col(xb, geometry, cols.pointer, outputRows: band)
                BLAS.sgemm(m: cout, n: bandPixels, k: k, a: weight.pointer, lda: k, b: cols.pointer, ldb: bandPixels,
                           beta: bias == nil ? 0 : 1, c: yb + band.lowerBound * geometry.outputWidth, ldc: n)
            }
        }
    }

    /// The gradients of `conv2d`: x (shape `xShape`) is read only for the weight gradient
    /// (`needs[1]`), the weight only for the input gradient (`needs[0]`). `cachesWeightTransform`:
    /// the weight is a parameter whose Winograd transform `WinogradWeightCache` may keep.
    static func conv2dBackward(
        _ g: Tensor, x savedX: Tensor?, xShape: [Int], weight savedWeight: Tensor?, weightShape: [Int],
        geometry: ConvGeometry, needs: [Bool], hasBias: Bool, cachesWeightTransform: Bool = false
    ) -> [Tensor?] {
        precondition((!needs[1] || savedX != nil) && (!needs[0] || savedWeight != nil),
                     "conv2d backward: a gradient was asked for whose operand was not saved")
        let batch = xShape[0], cout = weightShape[0]
        let k = geometry.patchSize, n = geometry.outputPixels
        let imageSize = geometry.channels * geometry.height * geometry.width
        let isPointwise = geometry.kernelHeight == 1 && geometry.kernelWidth == 1 && geometry.stride == 1 && geometry.padding == 0
        var gx: Tensor?, gw: Tensor?, gb: Tensor?
        if usesDirectConvolution(geometry, outputChannels: cout) {
            let (cin, h, w, kh, kw) = (geometry.channels, geometry.height, geometry.width, geometry.kernelHeight, geometry.kernelWidth)
            if needs[1] {
                let gradWeight = Tensor(uninitializedShape: weightShape)
                for b in 0..<batch {
                    DirectConvolution.backwardWeight(
                        gradOutput: g.pointer + b * cout * n, x: savedX!.pointer + b * imageSize, gradWeight: gradWeight.pointer,
                        accumulate: b > 0, inputChannels: cin, outputChannels: cout, height: h, width: w,
                        kernelHeight: kh, kernelWidth: kw)
                }
                gw = gradWeight
            }
            if needs[0] {
                let gradInput = Tensor(zeros: xShape)
                for b in 0..<batch {
                    DirectConvolution.backwardInput(
                        gradOutput: g.pointer + b * cout * n, weight: savedWeight!.pointer, gradInput: gradInput.pointer + b * imageSize,
                        inputChannels: cin, outputChannels: cout, height: h, width: w, kernelHeight: kh, kernelWidth: kw)
                }
                gx = gradInput
            }
            if hasBias && needs[2] { gb = channelSums(g) }
            return hasBias ? [gx, gw, gb] : [gx, gw]
        }
        let winograd = usesWinograd(geometry, outputChannels: cout)
        let smallN = usesSmallNWinograd(geometry, outputChannels: cout)
        let smallNWeights = smallN && WinogradConvolution.smallNWeightGradientInUse
        let bands = Kernels.im2colBands(geometry), outW = geometry.outputWidth
        // Column buffers only for the im2col weight gradient and the col2im input gradient below.
        let unfolds = !isPointwise && !winograd && ((needs[1] && !smallNWeights) || (needs[0] && !smallN))
        let cols = TensorStorage(count: unfolds ? k * largestBand(bands, geometry) : 1)
        if needs[1] && (smallNWeights || winograd) {
            let gradWeight = Tensor(uninitializedShape: weightShape)
            let weightGradient = smallNWeights
                ? WinogradConvolution.smallNWeightGradient(gradOutput:input:into:batch:inputChannels:outputChannels:height:width:padding:)
                : WinogradConvolution.weightGradient(gradOutput:input:into:batch:inputChannels:outputChannels:height:width:padding:)
            weightGradient(g.pointer, savedX!.pointer, gradWeight.pointer, batch, geometry.channels, cout,
                           geometry.height, geometry.width, geometry.padding)
            gw = gradWeight
        } else if needs[1] {
            let gradWeight = Tensor(uninitializedShape: weightShape)
            for b in 0..<batch {
                let xb = savedX!.pointer + b * imageSize, gb = g.pointer + b * cout * n
                if isPointwise {
                    BLAS.sgemm(transposeB: true, m: cout, n: k, k: n, a: gb, lda: n, b: xb, ldb: n, beta: b == 0 ? 0 : 1,
                               c: gradWeight.pointer, ldc: k)
                    continue
                }
                for (i, band) in bands.enumerated() {
                    let bandPixels = band.count * outW
                    Kernels.im2col(xb, geometry, cols.pointer, outputRows: band)
                    BLAS.sgemm(transposeB: true, m: cout, n: k, k: bandPixels, a: gb + band.lowerBound * outW, lda: n,
                               b: cols.pointer, ldb: bandPixels, beta: b == 0 && i == 0 ? 0 : 1,
                               c: gradWeight.pointer, ldc: k)
                }
            }
            gw = gradWeight
        }
        if needs[0] && smallN {
            // As below, with the small-N products on the forward's U rotated and packed (cached for the step).
            let cin = geometry.channels
            let packed = WinogradWeightCache.smallNWeights(of: savedWeight!, outputChannels: cout, inputChannels: cin,
                                                           rotatedTranspose: true, cacheable: cachesWeightTransform)
            let gradInput = Tensor(uninitializedShape: xShape)
            WinogradConvolution.convolve(
                g.pointer, transformedWeights: nil, smallN: packed.pointer, bias: nil, into: gradInput.pointer,
                batch: batch, inputChannels: cout, outputChannels: cin, height: geometry.outputHeight,
                width: geometry.outputWidth, padding: 2 - geometry.padding)
            gx = gradInput
        } else if needs[0] && winograd {
            // dx = dy ⋆ rot180(w)ᵀ with padding 2 − p: the same 3×3 stride-1 convolution, run by Winograd,
            // on the forward pass's transform of w (cached for the step) or its own rotated one.
            let cin = geometry.channels
            let reusesForward = WinogradWeightCache.inUse
            let u: TensorStorage
            if reusesForward {
                u = WinogradWeightCache.forwardTransform(of: savedWeight!, outputChannels: cout, inputChannels: cin,
                                                         cacheable: cachesWeightTransform)
            } else {
                u = TensorStorage(count: 16 * cout * cin)
                WinogradConvolution.transformWeights(
                    savedWeight!.pointer, outputChannels: cout, inputChannels: cin, transposedAndFlipped: true, into: u.pointer)
            }
            let gradInput = Tensor(uninitializedShape: xShape)
            WinogradConvolution.convolve(
                g.pointer, transformedWeights: u.pointer, rotatedTranspose: reusesForward, bias: nil,
                into: gradInput.pointer, batch: batch,
                inputChannels: cout, outputChannels: cin, height: geometry.outputHeight, width: geometry.outputWidth,
                padding: 2 - geometry.padding)
            gx = gradInput
        } else if needs[0] {
            let gradInput = Tensor(zeros: xShape)
            for b in 0..<batch {
                let gxb = gradInput.pointer + b * imageSize, gb = g.pointer + b * cout * n
                if isPointwise {
                    BLAS.sgemm(transposeA: true, m: k, n: n, k: cout, a: savedWeight!.pointer, lda: k, b: gb, ldb: n, c: gxb, ldc: n)
                    continue
                }
                for band in bands {
                    let bandPixels = band.count * outW
                    BLAS.sgemm(transposeA: true, m: k, n: bandPixels, k: cout, a: savedWeight!.pointer, lda: k,
                               b: gb + band.lowerBound * outW, ldb: n, c: cols.pointer, ldc: bandPixels)
                    Kernels.col2im(cols.pointer, geometry, gxb, outputRows: band)
                }
            }
            gx = gradInput
        }
        if hasBias && needs[2] { gb = channelSums(g) }
        return hasBias ? [gx, gw, gb] : [gx, gw]
    }

    /// Whether Winograd F(2×2, 3×3) runs this convolution's forward pass and gradients: a 3×3
    /// stride-1 kernel with zero padding ≤ 1 between layers of at least
    /// `WinogradConvolution.minimumChannels` channels and an output of at least
    /// `WinogradConvolution.minimumTiles` 2×2 tiles (below that its small matrix products lose to
    /// one im2col GEMM).
    static func usesWinograd(_ g: ConvGeometry, outputChannels: Int) -> Bool {
        winogradFits(g, outputChannels: outputChannels)
            && winogradTiles(g) >= (WinogradConvolution.minimumTilesOverride ?? WinogradConvolution.minimumTiles)
    }

    /// The layer conditions both Winograd paths share: Winograd switched on, a 3×3 stride-1
    /// kernel with zero padding ≤ 1, at least `WinogradConvolution.minimumChannels` channels in and out.
    private static func winogradFits(_ g: ConvGeometry, outputChannels: Int) -> Bool {
        WinogradConvolution.isEnabled && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding <= 1
            && g.channels >= WinogradConvolution.minimumChannels && outputChannels >= WinogradConvolution.minimumChannels
    }

    /// The number of 2×2 output tiles of a Winograd F(2×2, 3×3) convolution.
    private static func winogradTiles(_ g: ConvGeometry) -> Int {
        ((g.outputHeight + 1) / 2) * ((g.outputWidth + 1) / 2)
    }

    /// Whether the forward pass and input gradient of this convolution run by Winograd with the
    /// 16 products on the AVX-512 small-N kernel (`WinogradConvolution.smallNIsAvailable`): a 3×3
    /// stride-1 kernel with zero padding ≤ 1 between layers of at least
    /// `WinogradConvolution.minimumChannels` channels, and an output of 16…64 2×2 tiles (8 × 8 to
    /// 16 × 16: the residual blocks of the xAI generators at 64 and 128 px, CycleGAN's at 64 px).
    /// Its weight gradient runs on the same kernel (`WinogradConvolution.smallNWeightGradient`)
    /// unless `CYCLEX_TRAINING_SMALL_N_WGRAD=0`, which keeps it where it was (Winograd on OpenBLAS
    /// from `usesWinograd`'s 64 tiles, else im2col + sgemm).
    static func usesSmallNWinograd(_ g: ConvGeometry, outputChannels: Int) -> Bool {
        WinogradConvolution.smallNInUse && winogradFits(g, outputChannels: outputChannels)
            && (WinogradConvolution.smallNMinimumTiles...WinogradConvolution.smallNMaximumTiles).contains(winogradTiles(g))
    }

    /// Whether `DirectConvolution` beats im2col + sgemm: stride 1, no zero padding, a real
    /// kernel (not 1×1), and either at most `DirectConvolution.maximumOutputChannels` outputs or a
    /// large kernel (`DirectConvolution.handles`).
    static func usesDirectConvolution(_ g: ConvGeometry, outputChannels: Int) -> Bool {
        g.stride == 1 && g.padding == 0
            && DirectConvolution.handles(outputChannels: outputChannels, taps: g.kernelHeight * g.kernelWidth)
    }

    /// Output pixels of the largest band (`Kernels.im2colBands`): the column buffer holds patchSize × this.
    static func largestBand(_ bands: [Range<Int>], _ g: ConvGeometry) -> Int {
        (bands.map(\.count).max() ?? 0) * g.outputWidth
    }

    /// Σ over batch and space of a [B, C, H, W] gradient → [C] (the bias gradient).
    static func channelSums(_ g: Tensor) -> Tensor {
        let (batch, c) = (g.shape[0], g.shape[1])
        let n = g.count / (batch * c)
        let out = Tensor(uninitializedShape: [c])
        for ch in 0..<c {
            var s: Double = 0
            for b in 0..<batch { s += Kernels.sumDouble(g.pointer + (b * c + ch) * n, count: n) }
            out.pointer[ch] = Float(s)
        }
        return out
    }

    /// One output side of a transposed convolution (PyTorch's `ConvTranspose2d` rule):
    /// (n − 1)·stride − 2·padding + kernel + outputPadding.
    public static func transposedConvolutionOutputSize(_ n: Int, kernel: Int, stride: Int, padding: Int,
                                                       outputPadding: Int) -> Int {
        (n - 1) * stride - 2 * padding + kernel + outputPadding
    }

    /// Transposed convolution (PyTorch `ConvTranspose2d`, the gradient of `conv2d` w.r.t. its
    /// input): x [B, Cin, H, W], weight [Cin, Cout, k, k] → [B, Cout, Ho, Wo] with
    /// Ho = (H − 1)·stride − 2·padding + k + outputPadding.
    public func transposedConv2d(
        weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0
    ) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[0] == shape[1],
                     "transposedConv2d: input \(shape) does not match weight \(weight.shape) ([Cin, Cout, kh, kw])")
        let (batch, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        let outH = Self.transposedConvolutionOutputSize(h, kernel: kh, stride: stride, padding: padding,
                                                        outputPadding: outputPadding)
        let outW = Self.transposedConvolutionOutputSize(w, kernel: kw, stride: stride, padding: padding,
                                                        outputPadding: outputPadding)
        // The geometry of the equivalent forward conv: from the output image back to the input.
        let geometry = ConvGeometry(
            channels: cout, height: outH, width: outW, kernelHeight: kh, kernelWidth: kw, stride: stride,
            padding: padding, outputHeight: h, outputWidth: w)
        let k = geometry.patchSize, n = h * w
        let out = Tensor(zeros: [batch, cout, outH, outW])
        let cols = TensorStorage(count: k * n)
        for b in 0..<batch {
            BLAS.sgemm(transposeA: true, m: k, n: n, k: cin, a: weight.pointer, lda: k,
                       b: pointer + b * cin * n, ldb: n, c: cols.pointer, ldc: n)
            let yb = out.pointer + b * cout * outH * outW
            Kernels.col2im(cols.pointer, geometry, yb)
            if let bias {
                let plane = outH * outW
                for co in 0..<cout {
                    let v = bias.pointer[co], row = yb + co * plane
                    for i in 0..<plane { row[i] += v }
                }
            }
        }
        guard Tensor.willRecord(self, weight) || (bias.map { Tensor.willRecord($0) } ?? false) else { return out }
        let (xd, wd) = (detached(), weight.detached())
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.record(out, name: "transposedConv2d", inputs: inputs) { g, needs in
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            let gradCols = TensorStorage(count: k * n)
            if needs[0] { gx = Tensor(uninitializedShape: xd.shape) }
            if needs[1] { gw = Tensor(uninitializedShape: wd.shape) }
            if needs[0] || needs[1] {
                for b in 0..<batch {
                    Kernels.im2col(g.pointer + b * cout * outH * outW, geometry, gradCols.pointer)
                    if let gx {
                        BLAS.sgemm(m: cin, n: n, k: k, a: wd.pointer, lda: k, b: gradCols.pointer, ldb: n,
                                   c: gx.pointer + b * cin * n, ldc: n)
                    }
                    if let gw {
                        BLAS.sgemm(transposeB: true, m: cin, n: k, k: n, a: xd.pointer + b * cin * n, lda: n,
                                   b: gradCols.pointer, ldb: n, beta: b == 0 ? 0 : 1, c: gw.pointer, ldc: k)
                    }
                }
            }
            if bias != nil && needs[2] { gb = Tensor.channelSums(g) }
            return bias != nil ? [gx, gw, gb] : [gx, gw]
        }
    }
}
