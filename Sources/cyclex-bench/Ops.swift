import CyclexEngine
import Foundation

// MARK: - Convolution cases

/// One convolution as it appears in the networks. `reflectPad > 0` means the model reflect-pads
/// the input and then convolves with padding 0 (ResNet-9 stem, head and residual blocks).
struct ConvCase {
    var name: String
    var cin: Int, cout: Int, size: Int, kernel: Int
    var stride = 1, padding = 0, reflectPad = 0
    var transposed = false, outputPadding = 0

    var outputSize: Int {
        if transposed {
            return Tensor.transposedConvolutionOutputSize(size, kernel: kernel, stride: stride, padding: padding,
                                                          outputPadding: outputPadding)
        }
        return (size + 2 * (padding + reflectPad) - kernel) / stride + 1
    }
    /// Multiply-adds × 2 of one forward pass.
    var forwardFlops: Double {
        let pixels = transposed ? size * size : outputSize * outputSize
        return 2 * Double(cout) * Double(cin) * Double(kernel * kernel) * Double(pixels)
    }
    /// Forward + input gradient + weight gradient.
    var trainingFlops: Double { 3 * forwardFlops }
    var weightShape: [Int] { transposed ? [cin, cout, kernel, kernel] : [cout, cin, kernel, kernel] }

    func forward(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        if transposed {
            return x.transposedConv2d(weight: w, bias: b, stride: stride, padding: padding, outputPadding: outputPadding)
        }
        let input = reflectPad > 0 ? x.padded(by: reflectPad, mode: .reflect) : x
        return input.conv2d(weight: w, bias: b, stride: stride, padding: padding)
    }

    /// The im2col geometry of the (non-transposed) conv on its padded input.
    var geometry: ConvGeometry? {
        guard !transposed else { return nil }
        let h = size + 2 * reflectPad
        return makeGeometry(channels: cin, height: h, width: h, kernel: kernel, stride: stride, padding: padding,
                            output: outputSize)
    }
}

/// `ConvGeometry` has no public initialiser; it is nine `Int`s, so build it from a struct of the
/// same layout and check every field through its public properties (nil if the layout differs).
private struct GeometryLayout {
    var channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int
    var stride: Int, padding: Int, outputHeight: Int, outputWidth: Int
}

func makeGeometry(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int, output: Int) -> ConvGeometry? {
    guard MemoryLayout<GeometryLayout>.size == MemoryLayout<ConvGeometry>.size else { return nil }
    let layout = GeometryLayout(channels: channels, height: height, width: width, kernelHeight: kernel, kernelWidth: kernel,
                                stride: stride, padding: padding, outputHeight: output, outputWidth: output)
    let g = unsafeBitCast(layout, to: ConvGeometry.self)
    guard g.channels == channels, g.height == height, g.width == width, g.kernelHeight == kernel, g.kernelWidth == kernel,
          g.stride == stride, g.padding == padding, g.outputHeight == output, g.outputWidth == output
    else { return nil }
    return g
}

/// Fresh operands for one conv case.
struct ConvOperands {
    let x: Tensor, w: Tensor, b: Tensor, seed: Tensor
    init(_ c: ConvCase, _ rng: inout RandomGenerator) {
        x = randomTensor([1, c.cin, c.size, c.size], &rng, requiresGradient: true)
        w = randomTensor(c.weightShape, &rng, requiresGradient: true)
        b = randomTensor([c.cout], &rng, requiresGradient: true)
        seed = randomTensor([1, c.cout, c.outputSize, c.outputSize], &rng)
    }
}

/// Time of forward, of forward+backward (all three gradients), and of the two backward halves
/// on their own (input gradient only / weight+bias gradient only), medians in seconds.
struct ConvTimes {
    var forward: Timing, training: Timing
    var backwardData: Double = .nan, backwardWeight: Double = .nan
    var im2col: Double = .nan, col2im: Double = .nan
    var sgemmForward: Double = .nan, sgemmData: Double = .nan, sgemmWeight: Double = .nan
}

/// Times one conv case through the public Tensor API (and, with `split`, its kernels alone).
func timeConv(_ c: ConvCase, quick: Bool, split: Bool, backwardHalves: Bool = false) -> ConvTimes {
    var rng = RandomGenerator(seed: 11)
    let o = ConvOperands(c, &rng)
    let reps = quick ? 3 : 7, secs = quick ? 0.1 : 0.4
    let forward = measure(warmup: 1, minimumRepetitions: reps, minimumSeconds: secs) { _ = c.forward(o.x, o.w, o.b) }
    let training = measure(warmup: 1, minimumRepetitions: reps, minimumSeconds: secs) {
        let y = c.forward(o.x, o.w, o.b)
        _ = Tensor.gradients(of: y, withRespectTo: [o.x, o.w, o.b], seed: o.seed)
    }
    var t = ConvTimes(forward: forward, training: training)
    if backwardHalves {
        func backwardOnly(_ wrt: [Tensor]) -> Double {
            var times: [Double] = []
            for i in 0..<(reps + 1) {
                let y = c.forward(o.x, o.w, o.b)
                let s = seconds { _ = Tensor.gradients(of: y, withRespectTo: wrt, seed: o.seed) }
                if i > 0 { times.append(s) }
            }
            return times.min() ?? .nan
        }
        t.backwardData = backwardOnly([o.x])
        t.backwardWeight = backwardOnly([o.w, o.b])
    }
    if split, let g = c.geometry {
        let k = g.patchSize, n = g.outputPixels
        let xin = randomTensor([c.cin, g.height, g.width], &rng)
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let image = UnsafeMutablePointer<Float>.allocate(capacity: c.cin * g.height * g.width)
        defer { cols.deallocate(); image.deallocate() }
        cols.update(repeating: 0.5, count: k * n)
        t.im2col = measure(minimumRepetitions: reps, minimumSeconds: secs / 2) { Kernels.im2col(xin.pointer, g, cols) }.median
        t.col2im = measure(minimumRepetitions: reps, minimumSeconds: secs / 2) {
            image.update(repeating: 0, count: c.cin * g.height * g.width)
            Kernels.col2im(cols, g, image)
        }.median
        for (shape, keyPath) in [
            (GemmShape(name: "fwd", m: c.cout, n: n, k: k), \ConvTimes.sgemmForward),
            (GemmShape(name: "dX", m: k, n: n, k: c.cout, transposeA: true), \ConvTimes.sgemmData),
            (GemmShape(name: "dW", m: c.cout, n: k, k: n, transposeB: true), \ConvTimes.sgemmWeight),
        ] {
            let buf = GemmBuffers(shape)
            t[keyPath: keyPath] = measure(minimumRepetitions: reps, minimumSeconds: secs / 2) { buf.run() }.median
        }
    }
    return t
}

let opConvCases: [ConvCase] = [
    ConvCase(name: "conv 3×3 s1 p1 64×128²→64 (target)", cin: 64, cout: 64, size: 128, kernel: 3, padding: 1),
    ConvCase(name: "conv 3×3 s1 p1 128×64²→128", cin: 128, cout: 128, size: 64, kernel: 3, padding: 1),
    ConvCase(name: "conv 3×3 s1 p1 256×64²→256 (R256 @256)", cin: 256, cout: 256, size: 64, kernel: 3, padding: 1),
    ConvCase(name: "conv 7×7 s1 reflect3 3×256²→64 (c7s1-64)", cin: 3, cout: 64, size: 256, kernel: 7, reflectPad: 3),
    ConvCase(name: "conv 7×7 s1 reflect3 64×128²→3 (c7s1-3)", cin: 64, cout: 3, size: 128, kernel: 7, reflectPad: 3),
    ConvCase(name: "conv 3×3 s2 p1 64×128²→128 (d128)", cin: 64, cout: 128, size: 128, kernel: 3, stride: 2, padding: 1),
    ConvCase(name: "tconv 3×3 s2 p1 op1 256×64²→128 (u128)", cin: 256, cout: 128, size: 64, kernel: 3, stride: 2,
             padding: 1, transposed: true, outputPadding: 1),
]

// MARK: - The issue's target, A/B interleaved against sgemm

struct TargetResult {
    var convGflops: Double, sgemmGflops: Double, sameShapeGflops: Double
    var ratio: Double { convGflops / sgemmGflops }
    var sameShapeRatio: Double { convGflops / sameShapeGflops }
}

/// Alternates conv fwd+bwd with sgemm 1024³ and the conv's own forward GEMM shape, so that
/// both sides see the same machine state; GFLOP/s are medians over rounds of each round's best.
func measureTarget(rounds: Int) -> TargetResult {
    let c = opConvCases[0]
    var rng = RandomGenerator(seed: 3)
    let o = ConvOperands(c, &rng)
    let square = GemmBuffers(calibrationShapes[0]), same = GemmBuffers(calibrationShapes[1])
    var conv: [Double] = [], sq: [Double] = [], ss: [Double] = []
    for _ in 0..<2 {  // warm-up
        let y = c.forward(o.x, o.w, o.b)
        _ = Tensor.gradients(of: y, withRespectTo: [o.x, o.w, o.b], seed: o.seed)
        square.run(); same.run()
    }
    for _ in 0..<rounds {
        conv.append(c.trainingFlops / (0..<3).map { _ in seconds {
            let y = c.forward(o.x, o.w, o.b)
            _ = Tensor.gradients(of: y, withRespectTo: [o.x, o.w, o.b], seed: o.seed)
        } }.min()! / 1e9)
        sq.append(square.shape.flops / (0..<3).map { _ in seconds { square.run() } }.min()! / 1e9)
        ss.append(same.shape.flops / (0..<3).map { _ in seconds { same.run() } }.min()! / 1e9)
    }
    return TargetResult(convGflops: median(conv), sgemmGflops: median(sq), sameShapeGflops: median(ss))
}

// MARK: - Memory-bound ops

struct PointwiseCase {
    let name: String
    let shape: [Int]
    /// Bytes moved by forward and by backward (minimum traffic: each operand read or written once).
    let forwardBytes: Double, backwardBytes: Double
    let op: (Tensor) -> Tensor
}

func pointwiseCases() -> [PointwiseCase] {
    let m16 = 16 * 1024 * 1024
    let f = Double(MemoryLayout<Float>.size)
    func padBytes(_ c: Int, _ h: Int, _ p: Int) -> (Double, Double) {
        let a = Double(c * h * h) * f, b = Double(c * (h + 2 * p) * (h + 2 * p)) * f
        return (a + b, a + b)
    }
    let pad1 = padBytes(256, 64, 1), pad3 = padBytes(64, 128, 3)
    let inN = Double(128 * 64 * 64) * f
    return [
        PointwiseCase(name: "instance norm 128×64²", shape: [1, 128, 64, 64], forwardBytes: 2 * inN, backwardBytes: 3 * inN) {
            $0.instanceNormalized()
        },
        PointwiseCase(name: "instance norm 64×256²", shape: [1, 64, 256, 256], forwardBytes: 2 * 16 * inN,
                      backwardBytes: 3 * 16 * inN) { $0.instanceNormalized() },
        PointwiseCase(name: "reflect pad 1, 256×64²", shape: [1, 256, 64, 64], forwardBytes: pad1.0, backwardBytes: pad1.1) {
            $0.padded(by: 1, mode: .reflect)
        },
        PointwiseCase(name: "reflect pad 3, 64×128²", shape: [1, 64, 128, 128], forwardBytes: pad3.0, backwardBytes: pad3.1) {
            $0.padded(by: 3, mode: .reflect)
        },
        PointwiseCase(name: "tanh 16M", shape: [m16], forwardBytes: 2 * Double(m16) * f, backwardBytes: 3 * Double(m16) * f) {
            $0.tanh()
        },
        PointwiseCase(name: "leaky relu 0.2 16M", shape: [m16], forwardBytes: 2 * Double(m16) * f,
                      backwardBytes: 4 * Double(m16) * f) { $0.leakyRelu(slope: 0.2) },
        PointwiseCase(name: "relu 16M", shape: [m16], forwardBytes: 2 * Double(m16) * f, backwardBytes: 4 * Double(m16) * f) {
            $0.relu()
        },
        PointwiseCase(name: "add (residual) 16M", shape: [m16], forwardBytes: 3 * Double(m16) * f,
                      backwardBytes: 0) { $0 + $0 },
    ]
}

struct PointwiseTimes { var forward: Double, training: Double }

func timePointwise(_ c: PointwiseCase, quick: Bool) -> PointwiseTimes {
    var rng = RandomGenerator(seed: 5)
    let x = randomTensor(c.shape, &rng, requiresGradient: true)
    let seed = randomTensor(withoutGradient { c.op(x) }.shape, &rng)
    let reps = quick ? 3 : 9, secs = quick ? 0.1 : 0.3
    let forward = measure(minimumRepetitions: reps, minimumSeconds: secs) { _ = withoutGradient { c.op(x) } }.median
    let training = measure(minimumRepetitions: reps, minimumSeconds: secs) {
        let y = c.op(x)
        _ = Tensor.gradients(of: y, withRespectTo: [x], seed: seed)
    }.median
    return PointwiseTimes(forward: forward, training: training)
}

// MARK: - Section 2

func runOpsSection(quick: Bool, reference: Double, log: JSONLog) -> TargetResult {
    BLAS.setThreadCount(2)
    BufferPool.shared.drain()
    let target = measureTarget(rounds: quick ? 5 : 11)
    var t = TextTable(
        "2a. Conv fwd+bwd (batch 1, 2 threads): time median (min), GFLOP/s, % of in-run 2T sgemm 1024³ (\(fmt(reference)))",
        ["op", "GFLOP f+b", "fwd med", "f+b med (min)", "bwd≈", "fwd GF/s", "f+b GF/s", "% sgemm"])
    var times: [ConvTimes] = []
    for c in opConvCases {
        BufferPool.shared.drain()  // each row starts from an empty pool (the pool keeps ≤ 3 GiB)
        let r = timeConv(c, quick: quick, split: true)
        times.append(r)
        let gf = c.trainingFlops / r.training.median / 1e9
        t.add([c.name, fmt(c.trainingFlops / 1e9, 2), fmtTime(r.forward.median),
               "\(fmtTime(r.training.median)) (\(fmtTime(r.training.minimum)))",
               fmtTime(r.training.median - r.forward.median), fmt(c.forwardFlops / r.forward.median / 1e9),
               fmt(gf), fmt(100 * gf / reference, 0)])
        log.add("ops_conv", ["op": c.name, "gflop_fwd_bwd": c.trainingFlops / 1e9, "forward_median_s": r.forward.median,
                             "fwd_bwd_median_s": r.training.median, "fwd_bwd_min_s": r.training.minimum,
                             "gflops_fwd_bwd": gf, "pct_sgemm": 100 * gf / reference,
                             "im2col_s": r.im2col, "col2im_s": r.col2im, "sgemm_fwd_s": r.sgemmForward,
                             "sgemm_dx_s": r.sgemmData, "sgemm_dw_s": r.sgemmWeight])
    }
    let pass = target.ratio >= 0.60
    t.notes.append("""
        TARGET (issue 2): 3×3 s1 64×128²→64 fwd+bwd, A/B interleaved with sgemm in \(quick ? 5 : 11) rounds: \
        \(fmt(target.convGflops)) GFLOP/s = \(fmt(100 * target.ratio)) % of sgemm 1024³ (\(fmt(target.sgemmGflops))) \
        [\(fmt(100 * target.sameShapeRatio)) % of its own GEMM shape 64×16384×576 (\(fmt(target.sameShapeGflops)))] \
        → \(pass ? "PASS" : "FAIL") (≥ 60 %)
        """)
    t.print()
    log.add("target", ["conv_gflops": target.convGflops, "sgemm_1024_gflops": target.sgemmGflops,
                       "sgemm_same_shape_gflops": target.sameShapeGflops, "ratio": target.ratio, "pass": pass])

    var s = TextTable("2b. Where a conv's time goes (kernels alone, 2 threads, medians)",
                      ["op", "im2col", "sgemm fwd", "fwd other", "sgemm dX (TN)", "col2im", "sgemm dW (NT)",
                       "bwd other", "GEMM share"])
    for (c, r) in zip(opConvCases, times) where !c.transposed {
        let gemm = r.sgemmForward + r.sgemmData + r.sgemmWeight
        let fwdOther = r.forward.median - r.im2col - r.sgemmForward
        let bwdOther = (r.training.median - r.forward.median) - r.im2col - r.sgemmData - r.col2im - r.sgemmWeight
        s.add([c.name, fmtTime(r.im2col), fmtTime(r.sgemmForward), fmtTime(fwdOther), fmtTime(r.sgemmData),
               fmtTime(r.col2im), fmtTime(r.sgemmWeight), fmtTime(bwdOther),
               fmt(100 * gemm / r.training.median, 0) + " %"])
    }
    s.notes.append("Backward recomputes im2col for dW; \"other\" = pad, bias, zero-fill of dX, allocation, graph (can be < 0: noise).")
    s.print()

    var p = TextTable("2c. Memory-bound ops (2 threads): median time, GB/s of minimum traffic",
                      ["op", "elements", "fwd", "fwd GB/s", "fwd+bwd", "f+b GB/s"])
    do {  // The machine's copy bandwidth, as a ceiling for the rows below.
        BufferPool.shared.drain()
        let n = 16 * 1024 * 1024
        let src = UnsafeMutablePointer<Float>.allocate(capacity: n), dst = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { src.deallocate(); dst.deallocate() }
        src.update(repeating: 1, count: n); dst.update(repeating: 0, count: n)
        let one = measure(minimumRepetitions: quick ? 3 : 9, minimumSeconds: quick ? 0.1 : 0.3) { dst.update(from: src, count: n) }.median
        let two = measure(minimumRepetitions: quick ? 3 : 9, minimumSeconds: quick ? 0.1 : 0.3) {
            Parallel.forRanges(n, minimumChunk: 65_536) { r in (dst + r.lowerBound).update(from: src + r.lowerBound, count: r.count) }
        }.median
        p.add(["reference: copy 16M, 1 thread", "\(n)", fmtTime(one), fmt(8 * Double(n) / one / 1e9), "-", "-"])
        p.add(["reference: copy 16M, 2 threads", "\(n)", fmtTime(two), fmt(8 * Double(n) / two / 1e9), "-", "-"])
        log.add("ops_memory", ["op": "copy 16M", "forward_s": one, "forward_2t_s": two])
    }
    for c in pointwiseCases() {
        BufferPool.shared.drain()
        let r = timePointwise(c, quick: quick)
        let n = c.shape.reduce(1, *)
        p.add([c.name, "\(n)", fmtTime(r.forward), fmt(c.forwardBytes / r.forward / 1e9),
               fmtTime(r.training), c.backwardBytes > 0 ? fmt((c.forwardBytes + c.backwardBytes) / r.training / 1e9) : "-"])
        log.add("ops_memory", ["op": c.name, "elements": n, "forward_s": r.forward, "fwd_bwd_s": r.training,
                               "forward_gbps": c.forwardBytes / r.forward / 1e9])
    }
    p.notes.append("Expected on this machine kind: memory-bound kernels reach ~24 GB/s on 1 core, 34-36 GB/s on 2.")
    p.print()
    return target
}
