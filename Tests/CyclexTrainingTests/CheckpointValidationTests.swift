import CyclexEngine
import CyclexInference
import CyclexTraining
import Foundation
import Testing

/// Peak resident memory of this process in bytes (Linux reports kilobytes).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// Rewrites a checkpoint tensor by tensor: `edit` gets each name with its dtype, shape and values
/// (as Double) and returns the replacement (nil drops it); `metadata` edits the header map.
func rewriteCheckpoint(
    _ source: URL, to target: URL, metadata: (inout [String: String]) -> Void = { _ in },
    edit: (String, String, [Int], [Double]) -> (dtype: String, shape: [Int], values: [Double])? = { ($1, $2, $3) }
) throws {
    let file = try SafeTensorsFile(contentsOf: source)
    var writer = SafeTensorsWriter()
    writer.metadata = file.metadata
    metadata(&writer.metadata)
    for name in file.names {
        let entry = file.entries[name]!
        let values = entry.dtype == "I64" ? try file.int64s(name).map(Double.init) : try file.doubles(name)
        guard let (dtype, shape, newValues) = edit(name, entry.dtype, entry.shape, values) else { continue }
        if dtype == "I64" {
            writer.add(name, int64s: newValues.map { Int64($0) }, shape: shape)
        } else {
            writer.add(name, floats: newValues.map { Float($0) }, shape: shape)
        }
    }
    try writer.write(to: target)
}

/// Expects both checkpoint readers (or only the training one) to refuse `url` with every fragment.
func expectCheckpointRefused(_ url: URL, _ fragments: [String], generatorReaderToo: Bool = true,
                             sourceLocation: SourceLocation = #_sourceLocation) {
    var readers: [(String, () throws -> Void)] = [("Checkpoint.load", { _ = try Checkpoint.load(url) })]
    if generatorReaderToo { readers.append(("GeneratorCheckpoint.load", { _ = try GeneratorCheckpoint.load(url) })) }
    for (reader, body) in readers {
        do {
            try body()
            Issue.record("\(reader) accepted \(url.lastPathComponent)", sourceLocation: sourceLocation)
        } catch {
            let message = error.localizedDescription
            #expect(message.hasPrefix(url.path + ":"), "\(reader): '\(message)' does not start with the path", sourceLocation: sourceLocation)
            for fragment in fragments {
                #expect(message.contains(fragment), "\(reader): '\(message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
            }
        }
    }
}

@Suite("Checkpoints are untrusted: configuration, shapes and training state are checked before use")
struct CheckpointValidationTests {
    /// A tiny trained model of `kind` after two steps (pools, moments and streams all populated),
    /// saved to `root/good.safetensors`. `mixedSizes` makes the second step use 40×40 images.
    static func tinyCheckpoint(_ kind: ModelConfiguration.Kind, root: URL, mixedSizes: Bool = false) throws
        -> (url: URL, model: any ModelRecipe)
    {
        let configuration = ModelConfiguration.preset(.tiny, kind: kind, imageSize: 32)
        let model = makeModel(configuration, seed: 3)
        var g = RandomGenerator(seed: 9)
        for side in [32, mixedSizes ? 40 : 32] {
            _ = try model.trainStep(realA: Tensor(randomUniform: [1, 3, side, side], lowerBound: -1, upperBound: 1, using: &g),
                                    realB: Tensor(randomUniform: [1, 3, side, side], lowerBound: -1, upperBound: 1, using: &g))
        }
        let url = root.appendingPathComponent("good.safetensors")
        try Checkpoint.save(model, progress: TrainingProgress(epoch: 1, itemsConsumed: 2, globalStep: 2,
                                                              planGeneratorState: [1, 2, 3, 4], totalEpochs: 2, decayEpochs: 1),
                            to: url)
        return (url, model)
    }

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("A valid checkpoint round-trips; identical states give identical bytes", arguments: ModelConfiguration.Kind.allCases)
    func roundTrip(kind: ModelConfiguration.Kind) throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (url, model) = try Self.tinyCheckpoint(kind, root: root)
        let loaded = try Checkpoint.load(url)
        #expect(loaded.progress?.globalStep == 2)
        for ((name, a), (_, b)) in zip(model.optimizers, loaded.model.optimizers) {
            #expect(a.steps == b.steps, "\(name)")
            #expect(zip(a.secondMoments, b.secondMoments).allSatisfy { $0.scalars == $1.scalars }, "\(name)")
        }
        for ((name, a), (_, b)) in zip(model.pools, loaded.model.pools) {
            #expect(a.images.map(\.scalars) == b.images.map(\.scalars) && a.generator.state == b.generator.state, "\(name)")
        }
        #expect(loaded.model.generator.state == model.generator.state)
        // Saving the loaded state again, and a second identical run, give the same bytes.
        let again = root.appendingPathComponent("again.safetensors")
        try Checkpoint.save(loaded.model, progress: loaded.progress, to: again)
        let second = try Self.folder()
        defer { try? FileManager.default.removeItem(at: second) }
        let (twin, _) = try Self.tinyCheckpoint(kind, root: second)
        #expect(try Data(contentsOf: again) == Data(contentsOf: url))
        #expect(try Data(contentsOf: twin) == Data(contentsOf: url))
    }

    @Test("Pools with images of different sizes (--preprocess none) save and load")
    func mixedSizePools() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (url, model) = try Self.tinyCheckpoint(.cycleGAN, root: root, mixedSizes: true)
        #expect(try SafeTensorsFile(contentsOf: url).contains("pool.A.image.1"))
        let loaded = try Checkpoint.load(url).model
        for ((name, a), (_, b)) in zip(model.pools, loaded.pools) {
            #expect(a.images.map(\.shape) == [[1, 3, 32, 32], [1, 3, 40, 40]], "\(name)")
            #expect(a.images.map(\.shape) == b.images.map(\.shape) && a.images.map(\.scalars) == b.images.map(\.scalars), "\(name)")
        }
    }

    @Test("Model configurations out of bounds are refused before anything is allocated")
    func configurationBounds() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (url, model) = try Self.tinyCheckpoint(.cycleGAN, root: root)
        let base = model.configuration
        var cases: [(String, (inout ModelConfiguration) -> Void, String)] = [
            ("filters", { $0.generatorFilters = 200_000 }, "generatorFilters 200000 is outside 1...512"),
            ("blocks", { $0.residualBlocks = -1 }, "residualBlocks -1 is outside"),
            ("dfilters", { $0.discriminatorFilters = 0 }, "discriminatorFilters 0 is outside"),
            ("size", { $0.imageSize = 1 << 40 }, "imageSize"),
            ("stride", { $0.imageSize = 18 }, "not a multiple of the network stride 4"),
            ("channels", { $0.channels = 1000 }, "channels 1000"),
            ("pool", { $0.poolSize = Int.max }, "poolSize"),
            ("lr", { $0.learningRateGenerator = -1 }, "learningRateGenerator -1.0 is not a finite number"),
            ("gamma", { $0.gamma = 0 }, "gamma 0.0 is outside"),
            ("beta", { $0.beta2 = 1 }, "beta2"),
            // In bounds, but the file holds a tiny generator: refused before building a large one.
            ("big", { $0.generatorFilters = 512; $0.residualBlocks = 64 }, "needs at least"),
        ]
        // Fewer filters: the file holds enough values, but every layer's shape differs.
        cases.append(("fewer-filters", { $0.generatorFilters = 7 }, "tensor 'G_A.model.1.weight' has shape [8, 3, 7, 7], the model expects [7, 3, 7, 7]"))
        for (label, change, fragment) in cases {
            var configuration = base
            change(&configuration)
            let target = root.appendingPathComponent("\(label).safetensors")
            try rewriteCheckpoint(url, to: target, metadata: { $0["cyclex.model"] = configuration.jsonString() })
            let before = peakResidentBytes()
            expectCheckpointRefused(target, [fragment])
            #expect(peakResidentBytes() - before < 256 << 20, "\(label)")
        }
        // Unreadable configuration JSON names the field.
        let broken = root.appendingPathComponent("broken.safetensors")
        try rewriteCheckpoint(url, to: broken, metadata: { $0["cyclex.model"] = #"{"kind":"cyclegan"}"# })
        expectCheckpointRefused(broken, ["unreadable model configuration", "is missing"])
        let kind = root.appendingPathComponent("kind.safetensors")
        try rewriteCheckpoint(url, to: kind, metadata: {
            $0["cyclex.model"] = $0["cyclex.model"]!.replacingOccurrences(of: "\"cyclegan\"", with: "\"pix2pix\"")
        })
        expectCheckpointRefused(kind, ["unreadable model configuration", "kind"])
    }

    @Test("Network tensors: right element count in other dimensions, wrong size, missing")
    func networkShapes() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (url, _) = try Self.tinyCheckpoint(.xaiCycleGAN, root: root)
        let name = try SafeTensorsFile(contentsOf: url).names.first { $0.hasPrefix("G_BA.") && $0.hasSuffix(".weight") }!
        let shape = try SafeTensorsFile(contentsOf: url).entries[name]!.shape
        let reshaped = root.appendingPathComponent("reshaped.safetensors")
        try rewriteCheckpoint(url, to: reshaped, edit: { n, d, s, v in n == name ? (d, [s.reduce(1, *)], v) : (d, s, v) })
        expectCheckpointRefused(reshaped, ["tensor '\(name)'", "shape [\(shape.reduce(1, *))]", "expects \(shape)"])
        let transposed = root.appendingPathComponent("transposed.safetensors")
        try rewriteCheckpoint(url, to: transposed, edit: { n, d, s, v in n == name ? (d, [s[1], s[0]] + Array(s.dropFirst(2)), v) : (d, s, v) })
        expectCheckpointRefused(transposed, ["tensor '\(name)'", "expects \(shape)"])
        let missing = root.appendingPathComponent("missing.safetensors")
        try rewriteCheckpoint(url, to: missing, edit: { n, d, s, v in n == name ? nil : (d, s, v) })
        expectCheckpointRefused(missing, ["tensor '\(name)' is missing"])
    }

    @Test("Optimiser, pool and random-stream tensors of the wrong size or content are refused")
    func trainingState() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (url, _) = try Self.tinyCheckpoint(.cycleGAN, root: root)
        let names = try SafeTensorsFile(contentsOf: url).names
        let moment = names.first { $0.hasPrefix("optimizer.") && $0.contains("exp_avg.") }!
        let stepName = names.first { $0.hasPrefix("optimizer.") && $0.hasSuffix(".step") }!
        let cases: [(String, (String, String, [Int], [Double]) -> (dtype: String, shape: [Int], values: [Double])?, [String])] = [
            ("moment-short", { n, d, s, v in n == moment ? (d, [v.count - 1], Array(v.dropLast())) : (d, s, v) }, ["tensor '\(moment)'", "expected"]),
            ("moment-missing", { n, d, s, v in n == moment ? nil : (d, s, v) }, ["tensor '\(moment)' is missing"]),
            ("moment-nan", { n, d, s, v in n == moment.replacingOccurrences(of: "exp_avg.", with: "exp_avg_sq.") ? (d, s, v.map { _ in -1 }) : (d, s, v) },
             ["non-finite or negative"]),
            ("steps-long", { n, d, s, v in n == stepName ? (d, [s[0] + 1], v + [1]) : (d, s, v) }, ["tensor '\(stepName)'", "expected I64"]),
            ("steps-negative", { n, d, s, v in n == stepName ? (d, s, v.map { _ in -5 }) : (d, s, v) }, ["tensor '\(stepName)'", "out of range"]),
            ("steps-float", { n, d, s, v in n == stepName ? ("F32", s, v) : (d, s, v) }, ["tensor '\(stepName)' is F32"]),
            ("pool-channels", { n, d, s, v in n == "pool.A.images" ? (d, [s[0], 1, s[2], 3 * s[3]], v) : (d, s, v) }, ["tensor 'pool.A.images'"]),
            ("pool-rank", { n, d, s, v in n == "pool.B.images" ? (d, [v.count], v) : (d, s, v) }, ["tensor 'pool.B.images'"]),
            ("pool-empty-dim", { n, d, s, v in n == "pool.B.images" ? (d, [0, 3, 32, 32], []) : (d, s, v) }, ["tensor 'pool.B.images'"]),
            ("rng-short", { n, d, s, v in n == "rng.model" ? (d, [3], Array(v.prefix(3))) : (d, s, v) }, ["tensor 'rng.model'", "expected I64 [4]"]),
            ("rng-zero", { n, d, s, v in n == "pool.A.rng" ? (d, s, [0, 0, 0, 0]) : (d, s, v) }, ["tensor 'pool.A.rng'", "all-zero"]),
            ("rng-missing", { n, d, s, v in n == "rng.model" ? nil : (d, s, v) }, ["'rng.model' is missing"]),
        ]
        for (label, edit, fragments) in cases {
            let target = root.appendingPathComponent("\(label).safetensors")
            try rewriteCheckpoint(url, to: target, edit: edit)
            expectCheckpointRefused(target, fragments, generatorReaderToo: false)
            // The generators alone are intact, so translate still reads the file.
            #expect(throws: Never.self) { _ = try GeneratorCheckpoint.load(target) }
        }
        for (label, record, fragment) in [("garbage", "{oops", "progress record"), ("zero-epochs", #"{"epoch":1,"itemsConsumed":0,"globalStep":0,"planGeneratorState":[1,2,3,4],"totalEpochs":0,"decayEpochs":0}"#, "totalEpochs 0"),
                                          ("state", #"{"epoch":1,"itemsConsumed":0,"globalStep":0,"planGeneratorState":[1],"totalEpochs":2,"decayEpochs":1}"#, "planGeneratorState"),
                                          ("negative", #"{"epoch":1,"itemsConsumed":-3,"globalStep":0,"planGeneratorState":[1,2,3,4],"totalEpochs":2,"decayEpochs":1}"#, "negative")] {
            let target = root.appendingPathComponent("progress-\(label).safetensors")
            try rewriteCheckpoint(url, to: target, metadata: { $0["cyclex.training"] = record })
            expectCheckpointRefused(target, [fragment], generatorReaderToo: false)
        }
    }
}
