import CyclexEngine
import Foundation

/// `--profile`: where one CycleGAN iteration spends its time.
///
/// The engine has no op-level timers (and this bench must not change it), so the profile is
/// built two ways: (a) wall time of the iteration's phases, timed around the model calls;
/// (b) an op inventory of ResNet-9 + PatchGAN at this size, each distinct op timed alone
/// (forward, input-gradient backward, weight-gradient backward; convs split further into
/// im2col / col2im / GEMM with the engine's public kernels) and multiplied by how often one
/// iteration runs it. The gap between (b)'s sum and the measured iteration is what isolated
/// ops do not see: autodiff bookkeeping, gradient accumulation adds, losses, cache effects.

private enum PointwiseKind: String { case instanceNorm = "instance norm", pad = "reflect pad", relu, leakyRelu = "leaky relu", tanh, add }

private struct PointwiseEntry {
    let kind: PointwiseKind
    let shape: [Int]
    var padAmount = 0
    let forwardCount: Int, backwardCount: Int

    func apply(_ x: Tensor) -> Tensor {
        switch kind {
        case .instanceNorm: return x.instanceNormalized()
        case .pad: return x.padded(by: padAmount, mode: .reflect)
        case .relu: return x.relu()
        case .leakyRelu: return x.leakyRelu(slope: 0.2)
        case .tanh: return x.tanh()
        case .add: return x + x
        }
    }
}

private struct ConvEntry {
    let conv: ConvCase
    let forwardCount: Int, dataCount: Int, weightCount: Int
}

/// The op inventory of one iteration (6 generator passes, 6 discriminator passes).
private func inventory(size s: Int) -> (convs: [ConvEntry], pointwise: [PointwiseEntry]) {
    var convs: [ConvEntry] = []
    var pw: [PointwiseEntry] = []
    // Generator: 6 forwards; weight gradients in all 6 backward passes; the first layer's input
    // gradient only in the 2 passes whose input is a fake (rec_A, rec_B).
    func g(_ c: ConvCase, first: Bool = false, times: Int = 1) {
        convs.append(ConvEntry(conv: c, forwardCount: 6 * times, dataCount: (first ? 2 : 6) * times, weightCount: 6 * times))
    }
    g(ConvCase(name: "G c7s1-64 (on padded)", cin: 3, cout: 64, size: s + 6, kernel: 7), first: true)
    g(ConvCase(name: "G d128 3×3 s2", cin: 64, cout: 128, size: s, kernel: 3, stride: 2, padding: 1))
    g(ConvCase(name: "G d256 3×3 s2", cin: 128, cout: 256, size: s / 2, kernel: 3, stride: 2, padding: 1))
    g(ConvCase(name: "G R256 3×3 (on padded) ×18", cin: 256, cout: 256, size: s / 4 + 2, kernel: 3), times: 18)
    g(ConvCase(name: "G u128 tconv", cin: 256, cout: 128, size: s / 4, kernel: 3, stride: 2, padding: 1,
               transposed: true, outputPadding: 1))
    g(ConvCase(name: "G u64 tconv", cin: 128, cout: 64, size: s / 2, kernel: 3, stride: 2, padding: 1,
               transposed: true, outputPadding: 1))
    g(ConvCase(name: "G c7s1-3 (on padded)", cin: 64, cout: 3, size: s + 6, kernel: 7))
    func gp(_ kind: PointwiseKind, _ c: Int, _ h: Int, times: Int, pad: Int = 0, first: Bool = false) {
        pw.append(PointwiseEntry(kind: kind, shape: [1, c, h, h], padAmount: pad, forwardCount: 6 * times,
                                 backwardCount: (first ? 2 : 6) * times))
    }
    gp(.pad, 3, s, times: 1, pad: 3, first: true)
    gp(.pad, 256, s / 4, times: 18, pad: 1)
    gp(.pad, 64, s, times: 1, pad: 3)
    gp(.instanceNorm, 64, s, times: 2); gp(.instanceNorm, 128, s / 2, times: 2); gp(.instanceNorm, 256, s / 4, times: 19)
    gp(.relu, 64, s, times: 2); gp(.relu, 128, s / 2, times: 2); gp(.relu, 256, s / 4, times: 10)
    gp(.add, 256, s / 4, times: 9)
    gp(.tanh, 3, s, times: 1)
    // PatchGAN: 2 passes in the G step (input gradients only, first layer included: the input is
    // a fake) + 4 in the D step (weight gradients; input gradients of layers 2-5 only).
    let dSizes = [s, s / 2, s / 4, s / 8, s / 8 - 1]
    let dChannels = [3, 64, 128, 256, 512, 1]
    for k in 0..<5 {
        let c = ConvCase(name: "D conv\(k + 1) k4 \(dChannels[k])→\(dChannels[k + 1])", cin: dChannels[k],
                         cout: dChannels[k + 1], size: dSizes[k], kernel: 4, stride: k < 3 ? 2 : 1, padding: 1)
        convs.append(ConvEntry(conv: c, forwardCount: 6, dataCount: k == 0 ? 2 : 6, weightCount: 4))
        if k < 4 {
            let o = c.outputSize
            if k > 0 { pw.append(PointwiseEntry(kind: .instanceNorm, shape: [1, c.cout, o, o], forwardCount: 6, backwardCount: 6)) }
            pw.append(PointwiseEntry(kind: .leakyRelu, shape: [1, c.cout, o, o], forwardCount: 6, backwardCount: 6))
        }
    }
    return (convs, pw)
}

func runProfile(size: Int, iterations: Int, log: JSONLog) {
    BLAS.setThreadCount(2)
    BufferPool.shared.drain()
    // (a) Phases of the real iteration.
    let it = CycleGANIteration(size: size)
    it.run()
    var runs: [PhaseProfiler] = []
    var totals: [Double] = []
    for _ in 0..<iterations {
        let p = PhaseProfiler()
        let t0 = nowNanoseconds()
        it.run(p)
        let t1 = nowNanoseconds()
        p.close(at: t1)
        totals.append(Double(t1 - t0) * 1e-9)
        runs.append(p)
    }
    let measured = median(totals)
    var a = TextTable("P1. CycleGAN \(size)² iteration by phase (median of \(iterations), 2 threads)",
                      ["phase", "time", "share"])
    for name in runs[0].order {
        let t = median(runs.map { $0.totals[name] ?? 0 })
        a.add([name, fmtTime(t), fmt(100 * t / measured) + " %"])
        log.add("profile_phases", ["size": size, "phase": name, "median_s": t])
    }
    a.add(["whole iteration", fmtTime(measured), "100 %"])
    a.print()
    let adam = median(runs.map { ($0.totals["Adam G"] ?? 0) + ($0.totals["Adam D"] ?? 0) })

    // (b) Op inventory, each op timed alone.
    let (convs, pointwise) = inventory(size: size)
    var buckets: [(String, Double)] = []
    func add(_ name: String, _ t: Double) {
        if let i = buckets.firstIndex(where: { $0.0 == name }) { buckets[i].1 += t } else { buckets.append((name, t)) }
    }
    var detail = TextTable("P2. Conv inventory of one iteration (each op timed alone, best of reps; time/iter = count × time)",
                           ["conv", "fwd×", "dX×", "dW×", "fwd", "dX", "dW", "im2col", "col2im", "time/iter", "GF/s"])
    var convFlops = 0.0, convTime = 0.0
    for e in convs {
        BufferPool.shared.drain()
        let r = timeConv(e.conv, quick: false, split: !e.conv.transposed, backwardHalves: true)
        let fwd = r.forward.minimum, dx = r.backwardData, dw = r.backwardWeight
        let perIter = Double(e.forwardCount) * fwd + Double(e.dataCount) * dx + Double(e.weightCount) * dw
        let flops = e.conv.forwardFlops * Double(e.forwardCount + e.dataCount + e.weightCount)
        convFlops += flops; convTime += perIter
        detail.add([e.conv.name, "\(e.forwardCount)", "\(e.dataCount)", "\(e.weightCount)", fmtTime(fwd), fmtTime(dx),
                    fmtTime(dw), e.conv.transposed ? "-" : fmtTime(r.im2col), e.conv.transposed ? "-" : fmtTime(r.col2im),
                    fmtTime(perIter), fmt(flops / perIter / 1e9)])
        if e.conv.transposed {
            add("transposed conv fwd (GEMM + col2im)", Double(e.forwardCount) * fwd)
            add("transposed conv bwd (im2col + GEMMs)", Double(e.dataCount) * dx + Double(e.weightCount) * dw)
        } else {
            add("conv fwd: GEMM + bias", Double(e.forwardCount) * (fwd - r.im2col))
            add("conv fwd: im2col", Double(e.forwardCount) * r.im2col)
            add("conv bwd data: GEMM Wᵀ·dY + zero-fill", Double(e.dataCount) * (dx - r.col2im))
            add("conv bwd data: col2im", Double(e.dataCount) * r.col2im)
            add("conv bwd weight: GEMM dY·colsᵀ + bias", Double(e.weightCount) * (dw - r.im2col))
            add("conv bwd weight: im2col (recomputed)", Double(e.weightCount) * r.im2col)
        }
        log.add("profile_convs", ["size": size, "conv": e.conv.name, "forward_s": fwd, "dx_s": dx, "dw_s": dw,
                                  "im2col_s": r.im2col, "col2im_s": r.col2im, "counts": [e.forwardCount, e.dataCount, e.weightCount]])
    }
    detail.notes.append("All convs together: \(fmt(convFlops / 1e9)) GFLOP in \(fmtTime(convTime)) = \(fmt(convFlops / convTime / 1e9)) GFLOP/s.")
    detail.print()

    var rng = RandomGenerator(seed: 8)
    for e in pointwise {
        let x = randomTensor(e.shape, &rng, requiresGradient: true)
        let seed = randomTensor(withoutGradient { e.apply(x) }.shape, &rng)
        let fwd = measure(minimumRepetitions: 5, minimumSeconds: 0.05) { _ = e.apply(x) }.minimum
        var bwd: [Double] = []
        for i in 0..<8 {
            let y = e.apply(x)
            let t = seconds { _ = Tensor.gradients(of: y, withRespectTo: [x], seed: seed) }
            if i > 1 { bwd.append(t) }
        }
        add("\(e.kind.rawValue) fwd", Double(e.forwardCount) * fwd)
        add("\(e.kind.rawValue) bwd", Double(e.backwardCount) * (bwd.min() ?? .nan))
    }
    add("Adam (G + D, measured in P1)", adam)

    let sum = buckets.reduce(0) { $0 + $1.1 }
    var b = TextTable("P3. CycleGAN \(size)² iteration by op type (inventory × isolated best op time), sorted",
                      ["op type", "time/iter", "% of measured iteration"])
    for (name, t) in buckets.sorted(by: { $0.1 > $1.1 }) {
        b.add([name, fmtTime(t), fmt(100 * t / measured)])
        log.add("profile_ops", ["size": size, "op": name, "seconds_per_iter": t, "pct": 100 * t / measured])
    }
    b.add(["sum of the above", fmtTime(sum), fmt(100 * sum / measured)])
    b.add(["measured iteration (P1)", fmtTime(measured), "100.0"])
    b.add(["not covered: autodiff bookkeeping, grad accumulation adds, cache misses", fmtTime(measured - sum),
           fmt(100 * (measured - sum) / measured)])
    b.print()
}
