import CyclexImaging
import CyclexModels
import Foundation

/// What `cyclex gan train` was asked to do (saved as `options.json` and in every checkpoint).
public struct SingleGANOptions: Codable, Equatable, Sendable {
    /// A folder of MNIST-named IDX files or of images (with or without class sub-folders).
    public var dataRoot: String
    public var network: SingleGANConfiguration.Network = .dense
    public var explainer: SingleGANConfiguration.Explainer = .none
    public var rule: SingleGANConfiguration.Rule = .xaigan
    /// Share of the (class-filtered) images to train on, a seeded subset.
    public var fraction = 1.0
    /// Class names or indices to keep (empty: all).
    public var classes: [String] = []
    /// IDX folders: which split to train on.
    public var split: GANImageSet.Split = .train
    public var epochs = 10
    public var batchSize = 64
    public var seed: UInt64 = 0
    public var name: String?
    public var output = "checkpoints"
    /// A sample grid every this many steps (0: epoch ends only).
    public var sampleEvery = 500
    public var maxSteps: Int?
    public var timeLimit: Double?
    public var limeSamples = 64
    public var limePatchSize = 4
    /// DeepSHAP's pair-backward arithmetic on the dense D (nil: f32, the default; docs/explanations.md#deepshap-precision).
    public var shapPrecision: ExplanationPrecision?
    /// DeepSHAP against the first N background images only (nil: all; docs/explanations.md#deepshap-baselines).
    public var shapBaselines: Int?
    /// A LeNet-5 file (`cyclex gan train-classifier`): score FID/KID on its features at every
    /// epoch end against the IDX test split (same classes), as `"event": "eval"` log lines.
    public var evaluationClassifier: String?
    /// Generated images (and at most this many test images) per evaluation.
    public var evaluationCount = 2000

    public init(dataRoot: String) { self.dataRoot = dataRoot }

    public var runName: String {
        name ?? "\(URL(fileURLWithPath: dataRoot).standardizedFileURL.lastPathComponent)-gan-\(network.rawValue)-\(explainer.rawValue)"
    }

    public var runDirectory: URL { URL(fileURLWithPath: output).appendingPathComponent(runName) }

    /// The model configuration for data with `channels` channels.
    public func configuration(channels: Int) -> SingleGANConfiguration {
        var c = SingleGANConfiguration()
        c.network = network; c.rule = rule; c.explainer = explainer; c.channels = channels
        c.limeSamples = limeSamples; c.limePatchSize = limePatchSize
        c.shapPrecision = shapPrecision
        c.shapBaselines = shapBaselines
        return c
    }

    /// The settings a resumed run must share with the run it continues (data selection, order
    /// and model); epochs, limits, names and sampling may change between sessions.
    public func sameRun(as other: SingleGANOptions) -> Bool {
        var a = self, b = other
        a.epochs = 0; b.epochs = 0
        a.maxSteps = nil; b.maxSteps = nil
        a.timeLimit = nil; b.timeLimit = nil
        a.name = nil; b.name = nil
        a.output = ""; b.output = ""
        a.sampleEvery = 0; b.sampleEvery = 0
        a.dataRoot = ""; b.dataRoot = ""
        a.evaluationClassifier = nil; b.evaluationClassifier = nil
        a.evaluationCount = 0; b.evaluationCount = 0
        return a == b
    }

    /// "name: value" lines for the start of a run.
    public var summaryLines: [String] {
        [
            "  data: \(dataRoot)" + (split == .train ? "" : " (\(split.rawValue) split)"),
            "  model: \(network.rawValue), rule: \(rule.rawValue), explainer: \(explainer.rawValue)",
            "  fraction: \(fraction), classes: \(classes.isEmpty ? "all" : classes.joined(separator: ","))",
            "  epochs: \(epochs), batch size: \(batchSize), seed: \(seed)",
            "  max steps: \(maxSteps.map(String.init) ?? "none"), time limit: \(timeLimit.map { "\(Int($0)) s" } ?? "none")",
        ] + (explainer == .lime ? ["  lime: \(limeSamples) samples, \(limePatchSize)-pixel patches"] : [])
            + (explainer == .shap ? ["  shap precision: \((shapPrecision ?? .f32).rawValue), baselines: "
                + (shapBaselines.map { "first \($0) of the background batch (approximate)" } ?? "the whole background batch")] : [])
    }
}
