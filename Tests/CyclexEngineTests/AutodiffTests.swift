import CyclexEngine
import Foundation
import Testing

/// Autodiff semantics with known answers.
@Suite struct AutodiffTests {
    @Test func gradientsAccumulateOverBackwardCalls() {
        let x = Tensor(shape: [3], scalars: [1, -2, 3], requiresGradient: true)
        (x * 2).sum().backward()
        #expect(x.gradient?.scalars == [2, 2, 2])
        (x * 2).sum().backward()
        #expect(x.gradient?.scalars == [4, 4, 4])
        x.zeroGradient()
        #expect(x.gradient == nil)
        (x * 3).sum().backward()
        #expect(x.gradient?.scalars == [3, 3, 3])
    }

    @Test func accumulatedGradientIsAPrivateCopy() {
        // The first gradient is copied, so later in-place accumulation cannot corrupt the seed.
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGradient: true)
        let seed = Tensor(shape: [2], scalars: [5, 7])
        x.reshaped(to: [2]).backward(seed: seed)
        x.reshaped(to: [2]).backward(seed: seed)
        #expect(x.gradient?.scalars == [10, 14])
        #expect(seed.scalars == [5, 7])
    }

    @Test func tensorUsedTwice() {
        let x = Tensor(shape: [2, 2], scalars: [1, -2, 0.5, 4], requiresGradient: true)
        (x * x).sum().backward()
        #expect(x.gradient?.scalars == [2, -4, 1, 8])
        // Two paths of different lengths into one leaf: d/dx (x·3 + tanh(x)·0 + x) = 4.
        let y = Tensor(shape: [3], scalars: [0.1, 0.2, 0.3], requiresGradient: true)
        (y * 3 + y).sum().backward()
        #expect(y.gradient?.scalars == [4, 4, 4])
        // An interior tensor used twice: z = (2y)², dz/dy = 8y.
        let u = Tensor(shape: [2], scalars: [1, 3], requiresGradient: true)
        let t = u * 2
        (t * t).sum().backward()
        #expect(u.gradient?.scalars == [8, 24])
    }

    @Test func withoutGradientRecordsNothing() {
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGradient: true)
        let y = withoutGradient { (x * x).tanh() + 1 }
        #expect(!y.hasHistory)
        #expect(!y.requiresGradient)
        #expect(GradientMode.isRecording)
        let recorded = withoutGradient { GradientMode.isRecording }
        #expect(!recorded)
        #expect((x * x).hasHistory)
    }

    @Test func withGradientRecordsInsideWithoutGradient() {
        let x = Tensor(shape: [2], scalars: [1, 3], requiresGradient: true)
        let (outer, g) = withoutGradient { () -> (Tensor, [Tensor]) in
            let inner = withGradient { (x * x).sum() }
            #expect(inner.hasHistory)
            return (x * 2, Tensor.gradients(of: inner, withRespectTo: [x]))
        }
        #expect(!outer.hasHistory)
        #expect(g[0].scalars == [2, 6])
        #expect(x.gradient == nil)
    }

    @Test func detachedStopsGradients() {
        let x = Tensor(shape: [3], scalars: [1, 2, 3], requiresGradient: true)
        let d = (x * 2).detached()
        #expect(!d.hasHistory && !d.requiresGradient)
        #expect(d.scalars == [2, 4, 6])
        // d/dx (x · detach(2x)) = 2x (treated as constant), not 4x.
        (x * d).sum().backward()
        #expect(x.gradient?.scalars == [2, 4, 6])
        // Detached views share storage.
        let v = x.detached()
        #expect(v.storage === x.storage)
    }

    @Test func gradientsOfLeavesParametersUntouched() throws {
        var rng = RandomGenerator(seed: 12)
        let weight = Tensor(randomNormal: [4, 3], using: &rng), bias = Tensor(randomNormal: [4], using: &rng)
        weight.requiresGradient = true
        bias.requiresGradient = true
        let x = Tensor(randomNormal: [2, 3], using: &rng)
        x.requiresGradient = true
        let unused = Tensor(zeros: [5], requiresGradient: true)
        let out = x.linear(weight: weight, bias: bias).tanh().sum()
        let grads = Tensor.gradients(of: out, withRespectTo: [x, unused])
        #expect(weight.gradient == nil && bias.gradient == nil && x.gradient == nil && unused.gradient == nil)
        #expect(grads[1].shape == [5] && grads[1].scalars.allSatisfy { $0 == 0 })
        // Reference: ordinary backward on the same graph.
        out.backward()
        let expected = try #require(x.gradient)
        #expect(grads[0].shape == x.shape)
        for (a, b) in zip(grads[0].scalars, expected.scalars) { #expect(abs(a - b) <= 1e-6) }
        #expect(weight.gradient != nil)
    }

    @Test func gradientsOfWithSeed() {
        let x = Tensor(shape: [3], scalars: [1, 2, 3], requiresGradient: true)
        let g = Tensor.gradients(of: x * x, withRespectTo: [x], seed: Tensor(shape: [3], scalars: [1, 0, -1]))
        #expect(g[0].scalars == [2, 0, -6])
        #expect(x.gradient == nil)
    }

    @Test func backwardAccumulatingIntoListedLeavesOnly() {
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGradient: true)
        let a = Tensor(shape: [2], scalars: [3, 4], requiresGradient: true)
        let b = Tensor(shape: [2], scalars: [5, 6], requiresGradient: true)
        let loss = (x * a + x * b).sum()
        loss.backward(accumulatingInto: [a])
        #expect(a.gradient?.scalars == [1, 2])
        #expect(b.gradient == nil)
        #expect(x.gradient == nil)
        loss.backward(accumulatingInto: [b, x])
        #expect(b.gradient?.scalars == [1, 2])
        #expect(x.gradient?.scalars == [8, 10])
        #expect(a.gradient?.scalars == [1, 2])
    }

    @Test func tanhWithGradientRule() {
        let x = Tensor(shape: [3], scalars: [0.5, -1, 2], requiresGradient: true)
        // A rule that ignores tanh' and scales: dL/dpre = 5 · dL/dy.
        let pre = x * 2
        let y = pre.tanh(gradientRule: { g, _ in g * 5 })
        #expect(y.scalars.enumerated().allSatisfy { abs($0.element - Foundation.tanh(Float(2) * x.scalars[$0.offset])) < 1e-6 })
        y.backward(seed: Tensor(shape: [3], scalars: [1, 2, 3]))
        #expect(x.gradient?.scalars == [10, 20, 30])

        // The plain rule reproduces tanh(); nil means tanh().
        let z = Tensor(shape: [3], scalars: [0.3, -0.7, 1.1], requiresGradient: true)
        let seed = Tensor(shape: [3], scalars: [1, -2, 0.5])
        z.tanh(gradientRule: { g, y in Tensor.tanhGradient(g, output: y) }).backward(seed: seed)
        let viaRule = z.gradient!.scalars
        z.zeroGradient()
        z.tanh().backward(seed: seed)
        let plain = z.gradient!.scalars
        z.zeroGradient()
        z.tanh(gradientRule: nil).backward(seed: seed)
        #expect(viaRule == plain)
        #expect(z.gradient!.scalars == plain)
        for (i, v) in z.scalars.enumerated() {
            let t = Foundation.tanh(Double(v))
            #expect(abs(Double(plain[i]) - Double(seed.scalars[i]) * (1 - t * t)) < 1e-6)
        }
    }

    @Test func reshapeSharesStorage() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGradient: true)
        let r = x.reshaped(to: [3, -1])
        #expect(r.shape == [3, 2])
        #expect(r.storage === x.storage)
        x.pointer[4] = 50
        #expect(r.scalars[4] == 50)
        (r * Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])).sum().backward()
        #expect(x.gradient?.shape == [2, 3])
        #expect(x.gradient?.scalars == [1, 2, 3, 4, 5, 6])
    }

    @Test func backwardSeedDefaultsToOnes() {
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGradient: true)
        (x * 3).backward()
        #expect(x.gradient?.scalars == [3, 3])
    }

    @Test func constantsGetNoGradient() {
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGradient: true)
        let c = Tensor(shape: [2], scalars: [3, 4])
        (x * c).sum().backward()
        #expect(c.gradient == nil)
        #expect(!(c * c).hasHistory)
    }

    /// After a warm-up step, the same forward + backward is served from the pool. Other tests
    /// allocate concurrently in this process, so a few attempts are allowed: one step without
    /// any new allocation is enough.
    @Test func bufferPoolReusesBuffers() {
        var rng = RandomGenerator(seed: 77)
        // Unusual sizes, so concurrent tests do not take these buffers from the pool.
        let x = Tensor(randomNormal: [1, 3, 23, 29], using: &rng)
        let w = Tensor(randomNormal: [5, 3, 3, 3], standardDeviation: 0.2, using: &rng)
        let b = Tensor(randomNormal: [5], using: &rng)
        w.requiresGradient = true
        b.requiresGradient = true
        let seed = Tensor(randomNormal: [1, 5, 23, 29], using: &rng)
        func step() {
            let y = x.conv2d(weight: w, bias: b, padding: 1).instanceNormalized().leakyRelu() * 0.5 + x.mean()
            y.backward(seed: seed)
            w.zeroGradient()
            b.zeroGradient()
        }
        step()
        step()
        let reusesBefore = BufferPool.shared.reuseCount
        var steady = false
        for _ in 0..<50 {
            let before = BufferPool.shared.allocationCount
            step()
            if BufferPool.shared.allocationCount == before { steady = true; break }
        }
        #expect(steady, "every repeated step allocated new buffers")
        #expect(BufferPool.shared.reuseCount > reusesBefore)
    }
}

@Suite struct RandomGeneratorTests {
    @Test func sameSeedSameStream() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let sa = (0..<1000).map { _ in a.next() }
        let sb = (0..<1000).map { _ in b.next() }
        let sc = (0..<1000).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
        #expect(Set(sa).count == 1000)
        var t1 = RandomGenerator(seed: 5), t2 = RandomGenerator(seed: 5)
        #expect(Tensor(randomNormal: [7, 3], using: &t1).scalars == Tensor(randomNormal: [7, 3], using: &t2).scalars)
        #expect(Tensor(randomUniform: [9], using: &t1).scalars == Tensor(randomUniform: [9], using: &t2).scalars)
    }

    @Test func stateSaveAndRestoreContinuesExactly() {
        var g = RandomGenerator(seed: 2024)
        for _ in 0..<17 { _ = g.next() }
        _ = g.nextNormalPair()
        let saved = g.state
        #expect(saved.count == 4)
        let expected = (0..<100).map { _ in g.next() }
        let expectedFloats = (0..<10).map { _ in g.nextUniformFloat() }

        var restored = RandomGenerator(seed: 1)
        restored.state = saved
        #expect((0..<100).map { _ in restored.next() } == expected)
        #expect((0..<10).map { _ in restored.nextUniformFloat() } == expectedFloats)
        #expect(restored.state == g.state)
    }

    @Test func splitIsDeterministicAndIndependent() {
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        var sa = a.split(), sb = b.split()
        let xa = (0..<50).map { _ in sa.next() }
        #expect(xa == (0..<50).map { _ in sb.next() })
        #expect(xa != (0..<50).map { _ in a.next() })
    }

    @Test func normalSamplesHaveUnitMoments() {
        var g = RandomGenerator(seed: 31337)
        let pairs = 100_000
        var s = 0.0, ss = 0.0
        for _ in 0..<pairs {
            let (a, b) = g.nextNormalPair()
            s += a + b
            ss += a * a + b * b
        }
        let n = Double(2 * pairs)
        let mean = s / n
        let std = (ss / n - mean * mean).squareRoot()
        #expect(abs(mean) <= 4 / n.squareRoot(), "mean \(mean)")
        #expect(abs(std - 1) <= 4 / (2 * n).squareRoot(), "std \(std)")

        let t = Tensor(randomNormal: [50_001], mean: 3, standardDeviation: 0.5, using: &g)
        let values = t.scalars.map(Double.init)
        let m = values.reduce(0, +) / Double(values.count)
        let sd = (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(m - 3) <= 4 * 0.5 / Double(values.count).squareRoot(), "mean \(m)")
        #expect(abs(sd - 0.5) <= 4 * 0.5 / (2 * Double(values.count)).squareRoot(), "std \(sd)")
    }

    @Test func uniformSamples() {
        var g = RandomGenerator(seed: 8)
        let n = 100_000
        var s = 0.0
        var lowest: Float = 1, highest: Float = 0
        for _ in 0..<n {
            let u = g.nextUniformFloat()
            s += Double(u)
            lowest = min(lowest, u); highest = max(highest, u)
        }
        #expect(lowest >= 0 && highest < 1)
        #expect(abs(s / Double(n) - 0.5) <= 4 * (1.0 / 12).squareRoot() / Double(n).squareRoot())
        for _ in 0..<1000 {
            let d = g.nextUniformDouble()
            #expect(d >= 0 && d < 1)
        }
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 { counts[g.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { $0 > 800 && $0 < 1200 }, "\(counts)")
        let t = Tensor(randomUniform: [1000], lowerBound: -2, upperBound: 3, using: &g)
        #expect(t.scalars.allSatisfy { $0 >= -2 && $0 < 3 })
    }
}

@Suite struct SafeTensorsTests {
    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func sampleWriter() -> SafeTensorsWriter {
        var w = SafeTensorsWriter()
        w.add("weights", Tensor(shape: [2, 3], scalars: [1, -2.5, 3, 0, .greatestFiniteMagnitude, -1e-30]))
        w.add("scalar", floats: [7.25], shape: [])
        w.add("stats", doubles: [1.0 / 3.0, -2e300, 0.1], shape: [3])
        w.add("indices", int64s: [0, -1, Int64.max, 42], shape: [2, 2])
        w.add("image", bytes: [0, 1, 128, 255, 7], shape: [5])
        w.metadata = ["epoch": "3", "note": "round trip ✓"]
        return w
    }

    @Test func roundTrip() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("round.safetensors")
        try sampleWriter().write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.path == url.path)
        #expect(file.metadata == ["epoch": "3", "note": "round trip ✓"])
        #expect(file.names == ["weights", "scalar", "stats", "indices", "image"])
        #expect(try file.entry("weights").dtype == "F32" && file.entry("weights").shape == [2, 3])
        #expect(try file.floats("weights") == [1, -2.5, 3, 0, .greatestFiniteMagnitude, -1e-30])
        #expect(try file.entry("scalar").shape == [])
        #expect(try file.tensor("scalar").item == 7.25)
        #expect(try file.entry("stats").dtype == "F64")
        #expect(try file.doubles("stats") == [1.0 / 3.0, -2e300, 0.1])
        #expect(try file.entry("indices").dtype == "I64")
        #expect(try file.int64s("indices") == [0, -1, Int64.max, 42])
        #expect(try file.floats("indices")[3] == 42)
        #expect(try file.entry("image").dtype == "U8")
        #expect(try file.bytes("image") == [0, 1, 128, 255, 7])
        #expect(try file.floats("image") == [0, 1, 128, 255, 7])
        let t = try file.tensor("indices")
        #expect(t.shape == [2, 2])
        #expect(file.contains("image") && !file.contains("nope"))
        // Data starts 8-byte aligned.
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect((8 + headerLength) % 8 == 0)
        #expect(try data == sampleWriter().encoded())
    }

    @Test func errorsNameTheFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("cut.safetensors")
        let data = try sampleWriter().encoded()
        for cut in [data.count - 3, 20, 4] {
            try data.prefix(cut).write(to: url)
            do {
                _ = try SafeTensorsFile(contentsOf: url)
                Issue.record("a file truncated to \(cut) bytes was accepted")
            } catch let error as SafeTensorsError {
                #expect(error.localizedDescription.contains(url.path), "\(error.localizedDescription)")
            } catch {
                Issue.record("unexpected error type \(error)")
            }
        }
        let missing = folder.appendingPathComponent("missing.safetensors")
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: missing) }

        try sampleWriter().write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        let attempts: [() throws -> Void] = [{ _ = try file.floats("absent") }, { _ = try file.int64s("weights") },
                        { _ = try file.bytes("stats") }, { _ = try file.doubles("indices") }]
        for attempt in attempts {
            do {
                try attempt()
                Issue.record("expected an error")
            } catch let error as SafeTensorsError {
                #expect(error.localizedDescription.contains(url.path))
            }
        }
    }

    @Test func atomicFileLeavesNoTemporaryBehind() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("sub/dir/file.bin")
        try AtomicFile.write(Data([1, 2, 3]), to: url)
        try AtomicFile.write(Data([4, 5]), to: url)
        #expect(try Data(contentsOf: url) == Data([4, 5]))
        let listing = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
        #expect(listing == ["file.bin"])

        // A destination that cannot be created (its folder is a file) throws and leaves nothing.
        let blocked = folder.appendingPathComponent("sub/dir/file.bin/inner.bin")
        do {
            try AtomicFile.write(Data([9]), to: blocked)
            Issue.record("writing below a regular file succeeded")
        } catch let error as SafeTensorsError {
            #expect(error.localizedDescription.contains(blocked.path))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["file.bin"])
    }
}
