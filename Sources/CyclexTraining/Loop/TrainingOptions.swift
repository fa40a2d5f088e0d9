import CyclexImaging
import CyclexInference
import CyclexNN
import Foundation

/// What `cyclex train` was asked to do (saved as `options.json` beside the checkpoints).
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Data root with `trainA/ trainB/ (testA/ testB/)`.
    public var dataRoot: String
    public var model: ModelConfiguration.Kind = .cycleGAN
    public var preset: ModelConfiguration.Preset = .small
    /// Training image side.
    public var size = 64
    public var epochs = 10
    /// Epochs of linear learning-rate decay at the end (default: half of `epochs`).
    public var decayEpochs: Int?
    /// Steps of linear learning-rate decay to zero at the end of `maxSteps` (replaces the epoch
    /// decay; nil: decay by epochs).
    public var decaySteps: Int?
    public var batchSize = 1
    public var seed: UInt64 = 0
    /// Run name: the folder under `output` (default: data folder name + model).
    public var name: String?
    public var output = "checkpoints"
    /// Preprocessing of training images (CycleGAN's resize-and-crop by default).
    public var preprocessing: Preprocessing.Mode = .resizeAndCrop
    public var verticalFlip = false
    /// Write a sample grid every this many steps (0: only at epoch ends).
    public var sampleEvery = 500
    /// Stop (with a checkpoint) after this many steps in total; resume continues from there.
    public var maxSteps: Int?
    /// Stop (with a checkpoint) after this many seconds of training.
    public var timeLimit: Double?
    /// Save a numbered snapshot every this many epochs (besides `latest`).
    public var snapshotEvery = 5
    /// Score the held-out split this often and keep `best.safetensors` (nil: never).
    public var evaluateEvery: EvaluationInterval?
    public var lambdaSource: ModelConfiguration.LambdaSource = .sameDomain
    public var gamma: Float = 0.5
    public var decodeWorkers = 1

    public init(dataRoot: String) { self.dataRoot = dataRoot }

    public var runName: String {
        name ?? "\(URL(fileURLWithPath: dataRoot).standardizedFileURL.lastPathComponent)-\(model.rawValue)"
    }

    public var runDirectory: URL { URL(fileURLWithPath: output).appendingPathComponent(runName) }

    /// The step-counted decay `decaySteps` asks for (nil without it or without `maxSteps`).
    public var stepDecay: StepLinearDecay? {
        guard let decaySteps, let maxSteps, (0...maxSteps).contains(decaySteps) else { return nil }
        return StepLinearDecay(totalSteps: maxSteps, decaySteps: decaySteps)
    }

    /// The model these options describe.
    public var configuration: ModelConfiguration {
        var c = ModelConfiguration.preset(preset, kind: model, imageSize: size)
        c.lambdaSource = lambdaSource
        c.gamma = gamma
        return c
    }

    /// Options as "name: value" lines, non-defaults marked with `*`.
    public var summaryLines: [String] {
        let defaults = TrainingOptions(dataRoot: dataRoot)
        func line(_ key: String, _ value: String, _ defaultValue: String) -> String {
            "  \(value == defaultValue ? " " : "*") \(key): \(value)"
        }
        return [
            line("data", dataRoot, defaults.dataRoot),
            line("model", model.rawValue, defaults.model.rawValue),
            line("preset", preset.rawValue, defaults.preset.rawValue),
            line("size", "\(size)", "\(defaults.size)"),
            line("epochs", "\(epochs)", "\(defaults.epochs)"),
            decaySteps.map { line("decay steps", "\($0) of \(maxSteps ?? 0)", "none") }
                ?? line("decay epochs", "\(decayEpochs ?? epochs / 2)", "\(defaults.decayEpochs ?? epochs / 2)"),
            line("batch size", "\(batchSize)", "\(defaults.batchSize)"),
            line("seed", "\(seed)", "\(defaults.seed)"),
            line("name", runName, defaults.runName),
            line("output", output, defaults.output),
            line("preprocess", preprocessing.rawValue, defaults.preprocessing.rawValue),
            line("max steps", maxSteps.map(String.init) ?? "none", "none"),
            line("time limit", timeLimit.map { "\(Int($0)) s" } ?? "none", "none"),
            line("eval", evaluateEvery?.description ?? "never", "never"),
        ] + (model == .xaiCycleGAN ? [
            line("lambda source", lambdaSource.rawValue, defaults.lambdaSource.rawValue),
            line("gamma", "\(gamma)", "\(defaults.gamma)"),
        ] : [])
    }
}

extension Preprocessing.Mode: Codable {}

extension TrainingOptions {
    /// What differs between these options and the ones saved in `url` (the run's `options.json`)
    /// among the settings that a resume must keep for the continued run to be the same run:
    /// batch size, seed, preprocessing and flips (the model's own settings are compared through
    /// the checkpoint's configuration). Nil when nothing differs or no options were saved.
    /// - Throws: `TrainingError.incompatibleRun` naming the file when it cannot be read.
    public func resumeConflict(withOptionsIn url: URL) throws -> String? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let saved: TrainingOptions
        do { saved = try JSONDecoder().decode(TrainingOptions.self, from: Data(contentsOf: url)) } catch {
            throw TrainingError.incompatibleRun(
                directory: url.deletingLastPathComponent().path,
                reason: "\(url.lastPathComponent) is unreadable: \(CheckpointFormat.describe(error))")
        }
        var changes: [String] = []
        if saved.batchSize != batchSize { changes.append("--batch-size \(batchSize), the run used \(saved.batchSize)") }
        if saved.seed != seed { changes.append("--seed \(seed), the run used \(saved.seed)") }
        if saved.preprocessing != preprocessing {
            changes.append("--preprocess \(preprocessing.rawValue), the run used \(saved.preprocessing.rawValue)")
        }
        if saved.verticalFlip != verticalFlip { changes.append("--vertical-flip \(verticalFlip ? "on" : "off"), the run had it \(saved.verticalFlip ? "on" : "off")") }
        return changes.isEmpty ? nil : changes.joined(separator: "; ")
    }
}
