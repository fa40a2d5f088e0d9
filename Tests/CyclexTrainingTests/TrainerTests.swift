import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexNN
import CyclexTraining
import Foundation
import Testing

/// End-to-end training on tiny folders the tests write: checkpoints, exact resume, bad input.
@Suite(.serialized)
struct TrainerTests {
    /// `<tmp>/data/trainA|trainB` with `count` random 40×36 PNGs each (+ `extraA` files in trainA).
    func makeDataset(count: Int, extraA: [String: [UInt8]] = [:]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-trainer-\(UUID().uuidString)")
        var g = RandomGenerator(seed: 7)
        for domain in ["trainA", "trainB"] {
            let folder = root.appendingPathComponent("data/\(domain)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<count {
                let samples = (0..<(40 * 36 * 3)).map { _ in UInt8(g.nextInt(below: 256)) }
                try Image(width: 40, height: 36, channels: 3, samples: samples)
                    .write(to: folder.appendingPathComponent(String(format: "%03d.png", i)))
            }
        }
        for (name, bytes) in extraA {
            try Data(bytes).write(to: root.appendingPathComponent("data/trainA/\(name)"))
        }
        return root
    }

    func options(_ root: URL, kind: ModelConfiguration.Kind, name: String, epochs: Int = 3, maxSteps: Int?) -> TrainingOptions {
        var o = TrainingOptions(dataRoot: root.appendingPathComponent("data").path)
        o.model = kind; o.preset = .tiny; o.size = 32; o.epochs = epochs; o.seed = 3; o.name = name
        o.output = root.appendingPathComponent("runs").path; o.sampleEvery = 0; o.maxSteps = maxSteps
        return o
    }

    func quietTrainer(_ o: TrainingOptions) -> Trainer {
        let t = Trainer(options: o)
        t.note = { _ in }
        return t
    }

    func weights(_ url: URL) throws -> [String: [Float]] {
        let (model, _) = try Checkpoint.load(url)
        var all: [String: [Float]] = [:]
        for (prefix, module) in model.networks {
            for (name, t) in module.namedState { all["\(prefix).\(name)"] = t.scalars }
        }
        for (name, optimizer) in model.optimizers {
            for (i, m) in optimizer.secondMoments.enumerated() { all["\(name).v.\(i)"] = m.scalars }
        }
        return all
    }

    @Test(arguments: [ModelConfiguration.Kind.cycleGAN, .xaiCycleGAN])
    func resumeIsExact(kind: ModelConfiguration.Kind) throws {
        // 3 images per domain: epochs of 3 steps, so 2 + 3 steps crosses an epoch boundary.
        let root = try makeDataset(count: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let straight = try quietTrainer(options(root, kind: kind, name: "straight", maxSteps: 5)).run()
        #expect(straight.progress.globalStep == 5)
        #expect(straight.progress.epoch == 2)
        let first = try quietTrainer(options(root, kind: kind, name: "resumed", maxSteps: 2)).run()
        #expect(first.ending == .stepLimit && first.progress.globalStep == 2)
        let resumed = try quietTrainer(options(root, kind: kind, name: "resumed", maxSteps: 5)).run()
        #expect(resumed.progress.globalStep == 5)
        let a = try weights(straight.checkpoint), b = try weights(resumed.checkpoint)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, values) in a { #expect(values == b[name], "\(name) differs after resume") }
        // The run writes its options, a log line per step and sample grids at epoch ends.
        let run = straight.runDirectory
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("options.json").path))
        let log = try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 5)
        let grid = try Image(contentsOf: run.appendingPathComponent("samples/epoch001.png"))
        #expect(grid.width == 3 * 32 + 2 * 2 && grid.height == 6 * 32 + 5 * 2)  // 3 + 3 probes, 3 columns
    }

    /// The thread count changes only the speed: the worker pool splits products into parts that
    /// depend on the shape alone and every parallel kernel writes disjoint outputs, so 1 and 2
    /// threads train to the same bits (exact resume across machines' thread settings, MPI ranks
    /// with one thread against one process with two). Preset tiny at 128 px, so the downsampling
    /// convolutions' products (e.g. 16 × 4096 × 72 multiply-adds) are large enough to be split.
    @Test(arguments: [ModelConfiguration.Kind.cycleGAN, .xaiCycleGAN])
    func threadCountDoesNotChangeTheResult(kind: ModelConfiguration.Kind) throws {
        let root = try makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        let before = Parallel.threadCount
        defer { Parallel.setThreadCount(before) }
        var results: [[String: [Float]]] = []
        let splitBefore = BLAS.splitProducts
        for threads in [1, 2] {
            Parallel.setThreadCount(threads)
            var o = options(root, kind: kind, name: "threads-\(threads)", maxSteps: 1)
            o.size = 128
            results.append(try weights(quietTrainer(o).run().checkpoint))
        }
        #expect(BLAS.splitProducts > splitBefore, "no product was large enough to be split")
        for (index, r) in results.enumerated().dropFirst() {
            #expect(r.keys.sorted() == results[0].keys.sorted())
            for (name, values) in results[0] {
                #expect(r[name].map { $0.map(\.bitPattern) } == values.map(\.bitPattern),
                        "\(name) differs between 1 and \(index + 1) threads")
            }
        }
    }

    /// `--decay-steps`: the logged rate of each step follows `StepLinearDecay` across an epoch
    /// boundary (3-image epochs, 5 steps, decay over the last 3; the epoch decay would keep 1 here).
    @Test func stepDecayDrivesTheLoggedRate() throws {
        let root = try makeDataset(count: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        var o = options(root, kind: .cycleGAN, name: "decay", epochs: 4, maxSteps: 5)
        o.decaySteps = 3
        let run = try quietTrainer(o).run()
        #expect(run.progress.globalStep == 5)
        let log = try String(contentsOf: run.runDirectory.appendingPathComponent("log.jsonl"), encoding: .utf8)
        let rates = try log.split(separator: "\n").map { line -> Float in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require((record?["lr"] as? NSNumber)?.floatValue)
        }
        let base = o.configuration.learningRateGenerator
        let expected: [Float] = [1, 1, 0.75, 0.5, 0.25].map { $0 * base }
        #expect(rates.count == 5)
        for (rate, want) in zip(rates, expected) { #expect(abs(rate - want) <= 1e-9, "\(rates) vs \(expected)") }
    }

    @Test func completesAndSkipsUnreadableFiles() throws {
        let png = Array("\u{89}PNG\r\n\u{1A}\n".utf8) + [0, 0, 0, 13]  // a PNG cut inside its header
        let root = try makeDataset(count: 2, extraA: ["broken.png": png])
        defer { try? FileManager.default.removeItem(at: root) }
        let summary = try quietTrainer(options(root, kind: .cycleGAN, name: "skips", epochs: 2, maxSteps: nil)).run()
        #expect(summary.ending == .completed)
        #expect(summary.progress.epoch == 3)
        // 3 files in A → 3 plan items per epoch, one of them unreadable → 2 steps per epoch.
        #expect(summary.progress.globalStep == 4)
        let (_, progress) = try Checkpoint.load(summary.checkpoint)
        #expect(progress?.globalStep == 4)
    }

    @Test func divergenceStopsWithoutTouchingTheCheckpoint() throws {
        let root = try makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        let o = options(root, kind: .cycleGAN, name: "nan", maxSteps: 1)
        let first = try quietTrainer(o).run()
        // Poison one generator weight in the saved state, then continue.
        let (model, progress) = try Checkpoint.load(first.checkpoint)
        model.networks[0].module.parameters[0].pointer[0] = .nan
        try Checkpoint.save(model, progress: progress, to: first.checkpoint)
        let before = try Data(contentsOf: first.checkpoint)
        var more = o
        more.maxSteps = 3
        #expect {
            try quietTrainer(more).run()
        } throws: { error in
            guard case let TrainingError.nonFinite(step, _, files, _, checkpoint) = error else { return false }
            return step == 2 && files.count == 2 && checkpoint == first.checkpoint.path
        }
        #expect(try Data(contentsOf: first.checkpoint) == before)
    }

    @Test func changedSettingsAreRefused() throws {
        let root = try makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try quietTrainer(options(root, kind: .cycleGAN, name: "same", maxSteps: 1)).run()
        var other = options(root, kind: .cycleGAN, name: "same", maxSteps: 2)
        other.size = 40
        #expect(throws: TrainingError.self) { try quietTrainer(other).run() }
        // --restart starts over instead.
        let restarted = try quietTrainer(other).run(restart: true)
        #expect(restarted.progress.globalStep == 2)
    }

    @Test func missingFolderIsNamed() throws {
        var o = TrainingOptions(dataRoot: "/nonexistent/cyclex-data")
        o.output = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-none-\(UUID())").path
        #expect { try quietTrainer(o).run() } throws: { error in
            error.localizedDescription.contains("/nonexistent/cyclex-data")
        }
    }
}
