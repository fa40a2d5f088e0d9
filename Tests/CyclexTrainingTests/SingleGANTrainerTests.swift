import CyclexEngine
import CyclexImaging
import CyclexTraining
import Foundation
import Testing

/// `cyclex gan train` end to end on a tiny IDX folder the test writes: training, exact resume
/// (bit-identical to an uninterrupted run), logs, sample grids, data selection, divergence stop,
/// and `cyclex gan sample`.
@Suite("Single-GAN trainer")
struct SingleGANTrainerTests {
    /// IDX bytes: magic `0 0 8 rank`, big-endian dimensions, then the data.
    static func idx(_ dimensions: [Int], _ values: [UInt8]) -> Data {
        var bytes: [UInt8] = [0, 0, 8, UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return Data(bytes + values)
    }

    /// `<tmp>/data/` with MNIST-named train and t10k files: `count` 28×28 images whose label is
    /// `i % 4`, each a bright square whose position depends on the label, plus noise.
    static func makeIDXFolder(count: Int = 24) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-gan-\(UUID().uuidString)")
        let data = root.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var g = RandomGenerator(seed: 42)
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for i in 0..<count {
            let label = i % 4
            labels.append(UInt8(label))
            for y in 0..<28 {
                for x in 0..<28 {
                    let inside = (y / 14 == label / 2) && (x / 14 == label % 2)
                    pixels.append(inside ? UInt8(200 + g.nextInt(below: 56)) : UInt8(g.nextInt(below: 30)))
                }
            }
        }
        for prefix in ["train", "t10k"] {
            try idx([count, 28, 28], pixels).write(to: data.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try idx([count], labels).write(to: data.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        return root
    }

    static func options(_ root: URL, name: String, explainer: SingleGANConfiguration.Explainer = .lime,
                        maxSteps: Int? = nil) -> SingleGANOptions {
        var o = SingleGANOptions(dataRoot: root.appendingPathComponent("data").path)
        o.explainer = explainer; o.epochs = 2; o.batchSize = 8; o.seed = 5; o.name = name
        o.output = root.appendingPathComponent("runs").path; o.sampleEvery = 0; o.maxSteps = maxSteps
        o.limeSamples = 8; o.limePatchSize = 8
        return o
    }

    static func quiet(_ o: SingleGANOptions) -> SingleGANTrainer {
        let t = SingleGANTrainer(options: o)
        t.note = { _ in }
        return t
    }

    /// Every tensor of a checkpoint as bit patterns (F32 and I64 entries), and its header metadata.
    static func contents(_ url: URL) throws -> (tensors: [String: [UInt64]], metadata: [String: String]) {
        let file = try SafeTensorsFile(contentsOf: url)
        var tensors: [String: [UInt64]] = [:]
        for name in file.names {
            switch try file.entry(name).dtype {
            case "F32": tensors[name] = try file.floats(name).map { UInt64($0.bitPattern) }
            case "I64": tensors[name] = try file.int64s(name).map { UInt64(bitPattern: $0) }
            case let other: Issue.record("\(name): unexpected dtype \(other)")
            }
        }
        return (tensors, file.metadata)
    }

    @Test func resumeIsBitIdenticalAndLimeChangesTheGenerator() throws {
        let root = try Self.makeIDXFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        // 24 images, batch 8: 3 steps per epoch; xAI-GAN explains in epoch 2 of 2.
        let straight = try Self.quiet(Self.options(root, name: "straight")).run()
        #expect(straight.ending == .completed && straight.progress.globalStep == 6 && straight.progress.epoch == 3)
        let first = try Self.quiet(Self.options(root, name: "resumed", maxSteps: 4)).run()
        #expect(first.ending == .stepLimit && first.progress.globalStep == 4)
        let resumed = try Self.quiet(Self.options(root, name: "resumed")).run()
        #expect(resumed.progress.globalStep == 6)
        let a = try Self.contents(straight.checkpoint), b = try Self.contents(resumed.checkpoint)
        #expect(a.tensors.keys.sorted() == b.tensors.keys.sorted())
        #expect(a.tensors.keys.contains("rng.lime") && a.tensors.keys.contains("G.out.0.weight"))
        for (name, bits) in a.tensors { #expect(bits == b.tensors[name], "\(name) differs after resume") }
        #expect(a.metadata[SingleGANCheckpoint.configurationKey] == b.metadata[SingleGANCheckpoint.configurationKey])

        // The plain GAN from the same seed differs only through the explanation rule of epoch 2.
        let plain = try Self.quiet(Self.options(root, name: "plain", explainer: .none)).run()
        let c = try Self.contents(plain.checkpoint)
        #expect(c.tensors["G.out.0.weight"] != a.tensors["G.out.0.weight"], "LIME left the generator unchanged")

        // Log: one line per step, explanation on in epoch 2 only; a 64-image grid per epoch.
        let log = try String(contentsOf: straight.runDirectory.appendingPathComponent("log.jsonl"), encoding: .utf8)
        let lines = log.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines.prefix(3).allSatisfy { $0.contains("\"explained\":0") })
        #expect(lines.suffix(3).allSatisfy { $0.contains("\"explained\":1") && $0.contains("\"rejected_fraction\"") })
        let grid = try Image(contentsOf: straight.runDirectory.appendingPathComponent("samples/epoch002.png"))
        #expect(grid.width == 8 * 32 + 7 * 2 && grid.height == 8 * 32 + 7 * 2 && grid.channels == 1)

        // Changed data selection is refused; --restart starts over.
        var other = Self.options(root, name: "straight")
        other.fraction = 0.5
        #expect(throws: TrainingError.self) { try Self.quiet(other).run() }
    }

    @Test func divergenceStopsWithoutTouchingTheCheckpoint() throws {
        let root = try Self.makeIDXFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let o = Self.options(root, name: "nan", explainer: .saliency, maxSteps: 1)
        let first = try Self.quiet(o).run()
        let loaded = try SingleGANCheckpoint.load(first.checkpoint)
        loaded.model.generator.parameters[0].pointer[0] = .nan
        try SingleGANCheckpoint.save(loaded.model, configuration: loaded.configuration, options: loaded.options!,
                                     state: loaded.state!, to: first.checkpoint)
        let before = try Data(contentsOf: first.checkpoint)
        var more = o
        more.maxSteps = 3
        #expect {
            try Self.quiet(more).run()
        } throws: { error in
            guard case let TrainingError.nonFinite(step, _, _, _, checkpoint) = error else { return false }
            return step == 2 && checkpoint == first.checkpoint.path
        }
        #expect(try Data(contentsOf: first.checkpoint) == before)
    }

    @Test func classesFractionAndFolders() throws {
        let root = try Self.makeIDXFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try GANImageSet.load(from: root.appendingPathComponent("data"), channels: 1)
        #expect(data.count == 24 && data.side == 32 && data.classNames == ["0", "1", "2", "3"])
        let twos = data.selecting(classes: try data.classIndices(["2"]))
        #expect(twos.count == 6 && twos.labels.allSatisfy { $0 == 2 })
        #expect(throws: ImageError.self) { try data.classIndices(["7"]) }
        let half = data.subset(fraction: 0.5, seed: 1), again = data.subset(fraction: 0.5, seed: 1)
        let other = data.subset(fraction: 0.5, seed: 2)
        #expect(half.count == 12 && half.pixels == again.pixels && half.pixels != other.pixels)
        // A pixel of the bright square of a class-2 image (bottom-left quadrant) in [−1, 1].
        let batch = twos.batch([0])
        #expect(batch.shape == [1, 1, 32, 32] && batch.pointer[24 * 32 + 8] > 0.5 && batch.pointer[8 * 32 + 24] < -0.5)

        // Image folder with class sub-folders: colour, classes by folder name, a broken file skipped.
        let folder = root.appendingPathComponent("folder")
        for (k, cls) in ["cats", "dogs"].enumerated() {
            let dir = folder.appendingPathComponent(cls)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for i in 0..<2 {
                let image = Image(width: 40, height: 30, channels: 3, samples: [UInt8](repeating: UInt8(60 * (k + 1) + i), count: 40 * 30 * 3))
                try image.write(to: dir.appendingPathComponent("\(i).png"))
            }
        }
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: folder.appendingPathComponent("dogs/broken.png"))
        let images = try GANImageSet.load(from: folder, channels: 3)
        #expect(images.classNames == ["cats", "dogs"] && images.labels == [0, 0, 1, 1] && images.channels == 3)
        #expect(images.notes.contains { $0.contains("skipped 1") && $0.contains("broken.png") })

        // A truncated IDX file is an error naming it.
        let bad = root.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        try Self.idx([10, 28, 28], [1, 2, 3]).write(to: bad.appendingPathComponent("train-images-idx3-ubyte"))
        try Self.idx([10], [UInt8](repeating: 0, count: 10)).write(to: bad.appendingPathComponent("train-labels-idx1-ubyte"))
        #expect {
            try GANImageSet.load(from: bad, channels: 1)
        } throws: { error in
            error.localizedDescription.contains("train-images-idx3-ubyte") && error.localizedDescription.contains("truncated")
        }
    }

    @Test func sampleCommandWritesAGridAndSingleFiles() throws {
        let root = try Self.makeIDXFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.quiet(Self.options(root, name: "s", explainer: .none, maxSteps: 1)).run()
        let grid = root.appendingPathComponent("grid.png"), each = root.appendingPathComponent("each")
        let result = try runCyclex(["gan", "sample", run.runDirectory.path, grid.path, "--count", "10", "--each", each.path])
        #expect(result.status == 0, "\(result.stderr)")
        let image = try Image(contentsOf: grid)
        #expect(image.width == 4 * 32 + 3 * 2 && image.height == 3 * 32 + 2 * 2)  // ⌈√10⌉ = 4 columns, 3 rows
        let files = try FileManager.default.contentsOfDirectory(atPath: each.path).sorted()
        #expect(files.count == 10 && files.first == "000000.png")
        #expect(try Image(contentsOf: each.appendingPathComponent("000009.png")).width == 32)
        // The same seed gives the same images.
        let again = root.appendingPathComponent("again.png")
        _ = try runCyclex(["gan", "sample", run.checkpoint.path, again.path, "--count", "10"])
        #expect(try Data(contentsOf: again) == Data(contentsOf: grid))
    }

    @Test func badFlagsAreOneLineErrors() throws {
        for (arguments, flag) in [(["--fraction", "0"], "--fraction"), (["--fraction", "1.5"], "--fraction"),
                                  (["--lime-samples", "1"], "--lime-samples"),
                                  (["--explainer", "shap", "--shap-baselines", "0"], "--shap-baselines"),
                                  (["--explainer", "shap", "--shap-baselines", "65"], "--shap-baselines"),
                                  (["--explainer", "lime", "--shap-baselines", "8"], "--shap-baselines"),
                                  (["--explainer", "constant", "--rule", "logicgan"], "--explainer constant")] {
            let result = try runCyclex(["gan", "train", "/nonexistent"] + arguments)
            #expect(result.status == 64 && result.stderr.contains(flag), "\(arguments): \(result.stderr)")
        }
        let missing = try runCyclex(["gan", "train", "/nonexistent-cyclex-data", "--output", NSTemporaryDirectory()])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent-cyclex-data"))
        // bf16 DeepSHAP exists for the dense D's shap only; the refusal names the flag and leaves no run folder.
        let root = try Self.makeIDXFolder(count: 16)
        defer { try? FileManager.default.removeItem(at: root) }
        let output = root.appendingPathComponent("runs")
        let wrong = try runCyclex(["gan", "train", root.appendingPathComponent("data").path, "--explainer", "lime",
                                   "--shap-precision", "bf16", "--output", output.path, "--name", "x"])
        #expect(wrong.status != 0 && wrong.stderr.contains("--shap-precision"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("x").path))
    }
}

/// The LeNet-5 feature extractor and FID/KID on its features; the DCGAN path with LIME.
@Suite("Single-GAN evaluation and DCGAN")
struct SingleGANEvaluationTests {
    @Test func leNetLearnsTheToyClassesAndScoresSeparateRealFromNoise() throws {
        let root = try SingleGANTrainerTests.makeIDXFolder(count: 64)
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try GANImageSet.load(from: root.appendingPathComponent("data"), channels: 1)
        // Four classes told apart by which quadrant is bright: learnable in a few passes.
        let network = LeNetClassifier.train(on: data, epochs: 8, batchSize: 16, seed: 1)
        #expect(LeNetClassifier.accuracy(network, on: data) > 0.9)
        let file = root.appendingPathComponent("lenet.safetensors")
        try LeNetClassifier.save(network, accuracy: 1, data: "toy", to: file)
        let loaded = try LeNetClassifier.load(file)
        #expect(loaded.parameters.map(\.scalars) == network.parameters.map(\.scalars))

        let reals = data.batch(Array(0..<32)), others = data.batch(Array(32..<64))
        var g = RandomGenerator(seed: 3)
        let noise = Tensor(randomUniform: [32, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &g)
        let same = try SingleGANEvaluation.scores(classifier: network, reals: reals, fakes: reals)
        let held = try SingleGANEvaluation.scores(classifier: network, reals: reals, fakes: others)
        let far = try SingleGANEvaluation.scores(classifier: network, reals: reals, fakes: noise)
        #expect(abs(same.fid) < 1e-6)
        #expect(held.fid < far.fid && held.kidMean < far.kidMean)
        #expect(same.realCount == 32 && far.fakeCount == 32)
        // Epoch-end evaluation writes one eval line per epoch and leaves training unchanged.
        var o = SingleGANTrainerTests.options(root, name: "eval", explainer: .none)
        o.evaluationClassifier = file.path; o.evaluationCount = 16
        let evaluated = try SingleGANTrainerTests.quiet(o).run()
        let plain = try SingleGANTrainerTests.quiet(SingleGANTrainerTests.options(root, name: "noeval", explainer: .none)).run()
        let a = try SingleGANTrainerTests.contents(evaluated.checkpoint), b = try SingleGANTrainerTests.contents(plain.checkpoint)
        for (name, bits) in a.tensors { #expect(bits == b.tensors[name], "\(name) changed by evaluation") }
        let log = try String(contentsOf: evaluated.runDirectory.appendingPathComponent("log.jsonl"), encoding: .utf8)
        let evals = log.split(separator: "\n").filter { $0.contains("\"event\":\"eval\"") }
        #expect(evals.count == 2 && evals.allSatisfy { $0.contains("\"fid_lenet\":") && $0.contains("\"kid_lenet\":") })

        // A file that is not a LeNet-5 is refused, naming it.
        #expect { try LeNetClassifier.load(root.appendingPathComponent("data/train-images-idx3-ubyte")) } throws: { error in
            error.localizedDescription.contains("train-images-idx3-ubyte")
        }
    }

    @Test func evaluateScoresASingleGANCheckpointOrSaysHowToMakeTheClassifier() throws {
        let root = try SingleGANTrainerTests.makeIDXFolder(count: 32)
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try SingleGANTrainerTests.quiet(SingleGANTrainerTests.options(root, name: "e", explainer: .none, maxSteps: 2)).run()
        // Without a classifier: one clear error naming the flag and the command that makes the file.
        let missing = try runCyclex(["evaluate", "--checkpoint", run.runDirectory.path])
        #expect(missing.status != 0 && missing.stderr.contains("--classifier")
                && missing.stderr.contains("cyclex gan train-classifier"), "\(missing.stderr)")
        let absent = root.appendingPathComponent("absent.safetensors").path
        let named = try runCyclex(["evaluate", "--checkpoint", run.runDirectory.path, "--classifier", absent])
        #expect(named.status != 0 && named.stderr.contains(absent) && named.stderr.contains("train-classifier"), "\(named.stderr)")

        // With one: the same numbers as scoring the checkpoint's samples against the test split directly.
        let data = try GANImageSet.load(from: root.appendingPathComponent("data"), channels: 1, split: .test)
        let network = LeNetClassifier.train(on: data, epochs: 1, batchSize: 16, seed: 1)
        let file = root.appendingPathComponent("lenet.safetensors")
        try LeNetClassifier.save(network, accuracy: 0, data: "toy", to: file)
        let result = try runCyclex(["evaluate", "--checkpoint", run.checkpoint.path, "--classifier", file.path,
                                    "--count", "20", "--seed", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        let loaded = try SingleGANCheckpoint.load(run.checkpoint)
        let expected = try SingleGANEvaluation.scores(of: loaded.model, configuration: loaded.configuration,
                                                      classifier: try LeNetClassifier.load(file),
                                                      reals: data.batch(Array(0..<20)), count: 20, seed: 4)
        #expect(result.stdout.contains(String(format: "FID %.4f", expected.fid)), "\(result.stdout)")
        #expect(result.stdout.contains(String(format: "KID %.5f ± %.5f", expected.kidMean, expected.kidStd)), "\(result.stdout)")
    }

    @Test func dcganOnAColourFolderWithLimeAndSamplingLeavesTheGeneratorAlone() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-dcgan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("colour")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var g = RandomGenerator(seed: 8)
        for i in 0..<4 {
            let samples = (0..<(36 * 36 * 3)).map { _ in UInt8(g.nextInt(below: 256)) }
            try Image(width: 36, height: 36, channels: 3, samples: samples).write(to: folder.appendingPathComponent("\(i).png"))
        }
        var o = SingleGANOptions(dataRoot: folder.path)
        o.network = .dcgan; o.explainer = .lime; o.rule = .logicgan; o.epochs = 1; o.batchSize = 2; o.seed = 1
        o.output = root.appendingPathComponent("runs").path; o.sampleEvery = 0; o.limeSamples = 4; o.limePatchSize = 8
        let trainer = SingleGANTrainer(options: o)
        trainer.note = { _ in }
        let summary = try trainer.run()
        #expect(summary.ending == .completed && summary.progress.globalStep == 2)
        let loaded = try SingleGANCheckpoint.load(summary.checkpoint)
        #expect(loaded.configuration.network == .dcgan && loaded.configuration.channels == 3)
        let grid = try Image(contentsOf: summary.runDirectory.appendingPathComponent("samples/epoch001.png"))
        #expect(grid.channels == 3 && grid.width == 8 * 32 + 7 * 2)
        // Sampling uses batch statistics but puts BatchNorm's running statistics back.
        let before = loaded.model.generator.namedBuffers.map(\.tensor.scalars)
        var noise = RandomGenerator(seed: 0)
        let z = loaded.configuration.noise(count: 3, using: &noise)
        let first = SingleGANSampling.generate(loaded.model.generator, noise: z).scalars
        let second = SingleGANSampling.generate(loaded.model.generator, noise: z).scalars
        #expect(first == second && loaded.model.generator.namedBuffers.map(\.tensor.scalars) == before)

        // DeepSHAP on the DCGAN (BatchNorm in evaluation mode) trains too, and its baselines are saved.
        o.explainer = .shap; o.name = "dcgan-shap"
        let shapTrainer = SingleGANTrainer(options: o)
        shapTrainer.note = { _ in }
        let shap = try shapTrainer.run()
        #expect(shap.ending == .completed)
        let shapLoaded = try SingleGANCheckpoint.load(shap.checkpoint)
        #expect(shapLoaded.model.shapBaselines?.shape == [2, 3, 32, 32])
        #expect(shapLoaded.model.generator.parameters.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
    }
}
