import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Foundation
import Testing

/// `cyclex translate`'s library part: padding/cropping/tiling, fixture parity, and folder
/// translation with a checkpoint from a tiny training run.
@Suite(.serialized)
struct TranslateTests {
    // MARK: - Helpers

    static func temporaryFolder(_ tag: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-translate-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A smooth random RGB image (sums of a few sinusoids), `width`×`height`, 8 bit.
    static func smoothImage(width: Int, height: Int, channels: Int = 3, seed: UInt64) -> Image {
        var g = RandomGenerator(seed: seed)
        let f = (0..<(4 * channels)).map { _ in Double(g.nextInt(below: 1000)) / 1000 }
        var samples = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let v = sin(Double(x) * (0.02 + 0.1 * f[4 * c]) + 6 * f[4 * c + 1])
                        * cos(Double(y) * (0.02 + 0.1 * f[4 * c + 2]) + 6 * f[4 * c + 3])
                    samples[(y * width + x) * channels + c] = UInt8(max(0, min(255, 128 + 110 * v)))
                }
            }
        }
        return Image(width: width, height: height, channels: channels, samples: samples)
    }

    /// Floats in [−1, 1] → 8-bit levels with the CycleGAN `tensor2im` rule.
    static func levels(_ values: [Float]) -> [Int] {
        values.map { v in
            let x = (v + 1) / 2 * 255
            return x >= 255 ? 255 : (x > 0 ? Int(UInt8(x)) : 0)
        }
    }

    /// A checkpoint from 2 training steps of the tiny preset at 32 px on random 40×36 PNGs.
    static func trainTinyCheckpoint(kind: ModelConfiguration.Kind, root: URL) throws -> URL {
        var g = RandomGenerator(seed: 11)
        for domain in ["trainA", "trainB"] {
            let folder = root.appendingPathComponent("data/\(domain)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<2 {
                let samples = (0..<(40 * 36 * 3)).map { _ in UInt8(g.nextInt(below: 256)) }
                try Image(width: 40, height: 36, channels: 3, samples: samples)
                    .write(to: folder.appendingPathComponent("\(i).png"))
            }
        }
        var o = TrainingOptions(dataRoot: root.appendingPathComponent("data").path)
        o.model = kind; o.preset = .tiny; o.size = 32; o.epochs = 1; o.seed = 5; o.name = "run"
        o.output = root.appendingPathComponent("runs").path; o.sampleEvery = 0; o.maxSteps = 2
        let trainer = Trainer(options: o)
        trainer.note = { _ in }
        return try trainer.run().checkpoint
    }

    /// CycleGAN generators of the fixture generator's width and depth whose G_A holds its weights
    /// (G_B stays random).
    static func fixtureModel(_ f: Fixture) throws -> any GeneratorPair {
        var configuration = ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: try f.shape("input")[2])
        configuration.generatorFilters = try f.config["ngf"].int()
        configuration.residualBlocks = try f.config["n_blocks"].int()
        var g = RandomGenerator(seed: 0)
        let model = makeGeneratorPair(configuration, using: &g)
        let generator = try #require(model.networks.first { $0.prefix == "G_A" }).module
        try generator.load { name in try f.tensor("param.\(name)") }
        return model
    }

    // MARK: - Geometry

    @Test func paddingReachesTheStride() {
        for stride in [4, 8] {
            for length in 1...70 {
                let (before, after) = Translator.padding(for: length, stride: stride)
                let total = length + before + after
                #expect(total % stride == 0 && total >= 2 * stride && total - length < max(stride, 2 * stride - length + 1))
                #expect(before == 0)
            }
        }
        // Reflection padding matches PyTorch's ReflectionPad2d where that is defined.
        let t = Tensor(shape: [1, 2, 5, 6], scalars: (0..<60).map(Float.init))
        let mine = withoutGradient { t.padded(top: 2, bottom: 2, left: 2, right: 2, mode: .reflect) }
        let engine = withoutGradient { t.padded(by: 2, mode: .reflect) }
        #expect(mine.shape == engine.shape && mine.scalars == engine.scalars)
        // Row 0 mirrors source row 2 (12...17) about its ends, as ReflectionPad2d(2) does.
        #expect(Array(mine.scalars[0..<10]) == [14, 13, 12, 13, 14, 15, 16, 17, 16, 15])
        // Asymmetric and larger than the side (a 1- or 2-pixel image) still works.
        let small = Tensor(shape: [1, 1, 1, 2], scalars: [3, 7])
        let p = withoutGradient { small.padded(top: 3, bottom: 4, left: 3, right: 4, mode: .reflect) }
        #expect(p.shape == [1, 1, 8, 9])
        #expect(Array(p.scalars[0..<9]) == [7, 3, 7, 3, 7, 3, 7, 3, 7])
    }

    @Test func tilesCoverTheImageWithOverlap() {
        for stride in [1, 4, 8] {
            for length in [1, 100, 512, 513, 700, 1000, 1023, 1500, 4097] {
                let ranges = Translator.tileRanges(length: length, tile: 512, overlap: 32, stride: stride)
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == length)
                if length < 512 + stride { #expect(ranges.count == 1); continue }
                for (a, b) in zip(ranges, ranges.dropFirst()) {
                    #expect(a.count == 512 && b.count >= 512 && b.count < 512 + stride)
                    #expect(a.upperBound - b.lowerBound >= 32, "overlap \(a) \(b)")
                    #expect(b.lowerBound > a.lowerBound && b.lowerBound % stride == 0)
                }
            }
        }
    }

    /// Pads odd sizes up to the stride for a network that insists on it, and crops back exactly.
    @Test func anySizeGoesThroughAStrideNetwork() {
        let translator = Translator(stride: 8, channels: 3, tileSize: 0) { x in
            precondition(x.shape[2] % 8 == 0 && x.shape[3] % 8 == 0 && x.shape[2] >= 16 && x.shape[3] >= 16)
            return x.tanh()
        }
        for (w, h) in [(1, 1), (3, 50), (37, 29), (64, 64)] {
            let image = Self.smoothImage(width: w, height: h, seed: UInt64(w * h))
            let input = image.tensor(channels: 3)
            let out = translator.translate(input)
            #expect(out.shape == [1, 3, h, w])
            #expect(out.scalars == withoutGradient { input.tanh() }.scalars)
            let result = translator.translate(image)
            #expect(result.width == w && result.height == h && result.channels == 3)
        }
    }

    // MARK: - Parity with PyTorch

    /// The fixture ResNet generator loaded into a tiny CycleGAN model's G_A,
    /// run through the translation path, gives the fixture's pixels within one grey level.
    @Test
    func fixtureGeneratorParity() throws {
        let f = try Fixture.load("models/cyclegan_generator")
        let model = try Self.fixtureModel(f)
        let translator = Translator(generators: model, direction: .aToB)
        let (shape, input) = try f.floats("input")
        let (_, expected) = try f.floats("output")
        let per = shape[1] * shape[2] * shape[3]
        var worst = 0
        for n in 0..<shape[0] {
            let x = Tensor(shape: [1] + Array(shape.dropFirst()), scalars: Array(input[n * per..<(n + 1) * per]))
            let out = translator.translate(x)
            let a = Self.levels(out.scalars), b = Self.levels(Array(expected[n * per..<(n + 1) * per]))
            worst = max(worst, zip(a, b).map { abs($0 - $1) }.max() ?? 0)
        }
        #expect(worst <= 1, "largest difference \(worst) grey levels")
        // b2a uses the other (still random) generator.
        let other = translator.translate(Tensor(shape: [1] + Array(shape.dropFirst()), scalars: Array(input[0..<per])))
        let reverse = Translator(generators: model, direction: .bToA)
            .translate(Tensor(shape: [1] + Array(shape.dropFirst()), scalars: Array(input[0..<per])))
        #expect(other.scalars != reverse.scalars)
    }

    /// With a network that has no spatial context, tiles can only differ from the whole image
    /// through the blending, which must then be invisible: within one grey level everywhere.
    @Test func blendingAloneChangesNothing() {
        let image = Self.smoothImage(width: 301, height: 203, seed: 4)
        let network: (Tensor) -> Tensor = { $0.tanh() }
        let whole = Translator(stride: 4, channels: 3, tileSize: 0, network: network).translate(image)
        let tiledTranslator = Translator(stride: 4, channels: 3, tileSize: 96, tileOverlap: 16, network: network)
        #expect(Translator.tileRanges(length: 301, tile: tiledTranslator.tileSize, overlap: 16, stride: 4).count > 2)
        let tiled = tiledTranslator.translate(image)
        let diff = zip(whole.samples8!, tiled.samples8!).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(diff <= 1)
    }

    /// With the real generator (instance norm, 7×7 context) tiles give the whole-image result up
    /// to small differences from per-tile normalisation statistics and tile borders, damped by
    /// the ramps. Measured on a seeded random-weight generator (ngf 8, 2 blocks, PyTorch's default
    /// initialisation; the test's own, independent of any fixture set), which is more sensitive to
    /// normalisation statistics than a trained one: the differences shrink as tiles grow and are
    /// smallest on stationary images (noise), largest on images whose statistics vary across them.
    @Test
    func tiledTranslationIsCloseToWhole() throws {
        var configuration = ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: 32)
        (configuration.generatorFilters, configuration.residualBlocks) = (8, 2)
        configuration.initialization = .pytorchDefault
        var seeded = RandomGenerator(seed: 21)
        let model = makeGeneratorPair(configuration, using: &seeded)
        var g = RandomGenerator(seed: 3)
        let noise = Image(width: 260, height: 202, channels: 3,
                          samples: (0..<(260 * 202 * 3)).map { _ in UInt8(g.nextInt(below: 256)) })
        let smooth = Self.smoothImage(width: 262, height: 202, seed: 9)
        for (name, image, tile, maximumMean) in [("noise", noise, 192, 2.0), ("smooth", smooth, 256, 1.5)] {
            let whole = Translator(generators: model, direction: .aToB, tileSize: 0).translate(image)
            let tiled = Translator(generators: model, direction: .aToB, tileSize: tile, tileOverlap: 32).translate(image)
            let diffs = zip(whole.samples8!, tiled.samples8!).map { abs(Int($0) - Int($1)) }
            let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
            let withinOne = Double(diffs.filter { $0 <= 1 }.count) / Double(diffs.count)
            #expect(mean < maximumMean && withinOne > 0.6,
                    "\(name) \(image.width)x\(image.height), tile \(tile): mean \(mean), max \(diffs.max()!), within 1 level \(withinOne)")
        }
    }

    // MARK: - Folders

    @Test func shardsSplitAFolderExactly() throws {
        #expect(Shard(parsing: "1/3") != nil && Shard(parsing: "3/3") != nil)
        #expect(Shard(parsing: "0/3") == nil && Shard(parsing: "4/3") == nil && Shard(parsing: "x") == nil)
        let paths = (0..<500).map { "d\($0 % 7)/img_\($0).jpg" }
        var seen = Set<String>()
        for k in 1...4 {
            let shard = try #require(Shard(index: k, count: 4))
            let mine = paths.filter(shard.contains)
            #expect(mine.count > 80, "shard \(k) has \(mine.count) of 500")
            #expect(seen.isDisjoint(with: mine))
            seen.formUnion(mine)
        }
        #expect(seen.count == paths.count)
    }

    @Test(arguments: [ModelConfiguration.Kind.cycleGAN, .xaiCycleGAN])
    func folderTranslationFromATrainedCheckpoint(kind: ModelConfiguration.Kind) throws {
        let root = try Self.temporaryFolder(kind.rawValue)
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoint = try Self.trainTinyCheckpoint(kind: kind, root: root)
        let model = try GeneratorCheckpoint.load(checkpoint)
        #expect(model.configuration.kind == kind)

        // Inputs: RGB PNG, a JPEG in a sub-folder, gray, 16-bit, RGBA, a corrupt file, a text file.
        let input = root.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input.appendingPathComponent("sub/deeper"), withIntermediateDirectories: true)
        try Self.smoothImage(width: 45, height: 29, seed: 1).write(to: input.appendingPathComponent("rgb.png"))
        try Self.smoothImage(width: 50, height: 64, seed: 2).write(to: input.appendingPathComponent("sub/photo.jpg"))
        try Self.smoothImage(width: 33, height: 17, channels: 1, seed: 3).write(to: input.appendingPathComponent("sub/deeper/gray.png"))
        try Self.smoothImage(width: 20, height: 24, seed: 4).converted(toBitDepth: 16).write(to: input.appendingPathComponent("deep.png"))
        try Self.smoothImage(width: 16, height: 16, channels: 4, seed: 5).write(to: input.appendingPathComponent("alpha.png"))
        try Data(Array("\u{89}PNG\r\n\u{1A}\n".utf8) + [0, 0, 0, 13, 1, 2]).write(to: input.appendingPathComponent("broken.png"))
        try Data("notes".utf8).write(to: input.appendingPathComponent("readme.txt"))

        let output = root.appendingPathComponent("out")
        let options = TranslationOutputOptions()
        let items = try BatchTranslation.plan(input: input, output: output, options: options)
        #expect(items.map(\.relativePath) == ["alpha.png", "broken.png", "deep.png", "rgb.png", "sub/deeper/gray.png", "sub/photo.jpg"])
        var failures: [String] = []
        let summary = BatchTranslation.run(items, translator: Translator(generators: model, direction: .aToB),
                                           options: options, onFailure: { path, _ in failures.append(path) })
        #expect(summary.total == 6 && summary.done == 5 && summary.skipped == 0 && summary.failed == 1)
        #expect(failures == [input.appendingPathComponent("broken.png").path])
        #expect(summary.failures.first?.message.contains("broken.png") == true)

        func load(_ path: String) throws -> Image { try Image(contentsOf: output.appendingPathComponent(path)) }
        let rgb = try load("rgb.png")
        #expect(rgb.width == 45 && rgb.height == 29 && rgb.channels == 3 && rgb.bitDepth == 8)
        let photo = try load("sub/photo.jpg")
        #expect(photo.width == 50 && photo.height == 64 && photo.channels == 3)
        let jpegBytes = try Data(contentsOf: output.appendingPathComponent("sub/photo.jpg"))
        #expect(jpegBytes.starts(with: [0xFF, 0xD8]))
        let gray = try load("sub/deeper/gray.png")
        #expect(gray.width == 33 && gray.height == 17 && gray.channels == 1 && gray.bitDepth == 8)
        let deep = try load("deep.png")
        #expect(deep.width == 20 && deep.height == 24 && deep.channels == 3 && deep.bitDepth == 16)
        let alpha = try load("alpha.png")
        #expect(alpha.width == 16 && alpha.channels == 3)
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("broken.png").path))
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: output.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)

        // The same translation as the single-file path, and deterministic (xAI: fixed-seed mask).
        let single = root.appendingPathComponent("single.png")
        try BatchTranslation.translateFile(input: input.appendingPathComponent("rgb.png"), output: single,
                                           translator: Translator(generators: model, direction: .aToB), options: options)
        #expect(try Image(contentsOf: single) == rgb)

        // A second run skips what exists; --overwrite redoes it.
        let again = BatchTranslation.run(items, translator: Translator(generators: model, direction: .aToB), options: options)
        #expect(again.done == 0 && again.skipped == 5 && again.failed == 1)
        var overwrite = options
        overwrite.overwrite = true
        let redone = BatchTranslation.run(items, translator: Translator(generators: model, direction: .aToB), options: overwrite)
        #expect(redone.done == 5 && redone.skipped == 0)

        // A killed run's temporary files are swept from the folders written into; a live
        // writer's (another shard's) stay. pid_max is at most 2^22 on Linux: 4194305 cannot run.
        let dead = ["sub/.photo.jpg.tmp-4194305", ".rgb.png.tmp-4194306"]
        let live = "sub/deeper/.other.png.tmp-\(getpid())"
        for name in dead + [live] { try Data(count: 100).write(to: output.appendingPathComponent(name)) }
        let swept = BatchTranslation.run(items, translator: Translator(generators: model, direction: .aToB), options: overwrite)
        #expect(swept.removedTemporaries == 2 && swept.done == 5)
        for name in dead { #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent(name).path)) }
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent(live).path))
        try FileManager.default.removeItem(at: output.appendingPathComponent(live))

        // b2a differs from a2b.
        let reverse = root.appendingPathComponent("out-b2a")
        let reverseItems = try BatchTranslation.plan(input: input, output: reverse, options: options)
        _ = BatchTranslation.run(reverseItems, translator: Translator(generators: model, direction: .bToA), options: options)
        #expect(try Image(contentsOf: reverse.appendingPathComponent("rgb.png")) != rgb)

        // --format png, --size and --side-by-side.
        var converted = options
        converted.format = .png
        converted.size = ImageSize(width: 24, height: 40)
        converted.sideBySide = true
        let convertedOutput = root.appendingPathComponent("out-png")
        let convertedItems = try BatchTranslation.plan(input: input, output: convertedOutput, options: converted)
        #expect(convertedItems.first { $0.relativePath == "sub/photo.jpg" }?.output.lastPathComponent == "photo.png")
        let s = BatchTranslation.run(convertedItems, translator: Translator(generators: model, direction: .aToB), options: converted)
        #expect(s.done == 5)
        let pair = try Image(contentsOf: convertedOutput.appendingPathComponent("sub/photo.png"))
        #expect(pair.width == 48 && pair.height == 40 && pair.channels == 3)

        // Shards of the folder are disjoint and together make the whole plan.
        var all: [String] = []
        for k in 1...3 {
            var sharded = options
            sharded.shard = Shard(index: k, count: 3)
            all += try BatchTranslation.plan(input: input, output: output, options: sharded).map(\.relativePath)
        }
        #expect(all.sorted() == items.map(\.relativePath))
    }
}
