import CyclexImaging
import Foundation

/// What the report reads from one run folder (`checkpoints/<name>/`): the options, the log, the
/// sample grids and any folders of test translations.
public struct RunFolder {
    /// One sample grid file and where in training it was written.
    public struct Sample {
        public var url: URL
        public var epoch: Int
        /// The global step for mid-epoch grids (`epochNNN_stepNNNNNNN.png`); nil for the grid
        /// written at the end of the epoch (`epochNNN.png`).
        public var step: Int?
        public var caption: String { step.map { "epoch \(epoch), step \($0)" } ?? "end of epoch \(epoch)" }
    }

    /// Translated test images with the folders they came from.
    public struct Translations {
        public var folder: URL
        /// "A→B" or "B→A".
        public var direction: String
        /// The untranslated inputs (same file names), when found.
        public var inputs: URL?
        /// The true counterparts in the other domain (same file names), when found.
        public var truth: URL?
    }

    public let directory: URL
    /// Display name: the folder's name.
    public let name: String
    /// `options.json` as loose key/values (read without requiring the current option set, so old
    /// runs still show).
    public let options: [String: String]

    /// Whether the run is a single GAN's (`cyclex gan train` writes `network` and `explainer`).
    public var isSingleGAN: Bool { options["network"] != nil && options["explainer"] != nil }
    public let history: RunHistory
    public let samples: [Sample]
    /// What the explanation machinery saw on the probes (`samples/explain/`, xai-cyclegan runs).
    public let explanations: [Sample]
    public let translations: [Translations]
    /// Things that could not be read (named), shown in the report and printed.
    public let warnings: [String]

    /// Reads `directory`. `dataRoot` overrides the data folder recorded in `options.json` (used to
    /// find the untranslated inputs and true counterparts of test translations).
    public init(_ directory: URL, dataRoot: URL? = nil) throws {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReportError.unreadable(path: directory.path, reason: "no such folder")
        }
        let log = directory.appendingPathComponent("log.jsonl")
        let optionsFile = directory.appendingPathComponent("options.json")
        let samplesFolder = directory.appendingPathComponent("samples")
        guard [log, optionsFile, samplesFolder].contains(where: { fileManager.fileExists(atPath: $0.path) }) else {
            throw ReportError.notARun(path: directory.path)
        }
        self.directory = directory
        name = directory.standardizedFileURL.lastPathComponent
        var warnings: [String] = []

        var options: [String: String] = [:]
        if let data = try? Data(contentsOf: optionsFile) {
            if data.count < 1 << 20, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                for (key, value) in object {
                    switch value {
                    case let s as String: options[key] = s
                    case let n as NSNumber: options[key] = "\(n)"
                    case let list as [Any]: options[key] = list.compactMap { ($0 as? String) ?? ($0 as? NSNumber).map { "\($0)" } }
                        .joined(separator: ",")
                    default: continue
                    }
                }
            } else {
                warnings.append("\(optionsFile.path): not a JSON object; options not shown")
            }
        }
        self.options = options

        history = try RunHistory(contentsOf: log)
        if history.skippedLines > 0 {
            warnings.append("\(log.path): \(history.skippedLines) line(s) that are not log records were skipped")
        }

        samples = Self.samples(in: samplesFolder)
        explanations = Self.samples(in: samplesFolder.appendingPathComponent("explain"))

        let data = dataRoot ?? options["dataRoot"].flatMap { Self.locate(dataRoot: $0, runDirectory: directory) }
        var translations: [Translations] = []
        let children = ((try? fileManager.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        for child in children where child.hasPrefix("test-translations") {
            let folder = directory.appendingPathComponent(child)
            guard fileManager.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let reverse = child.lowercased().contains("b2a")
            let (inputName, truthName) = reverse ? ("testB", "testA") : ("testA", "testB")
            let existing = { (name: String) -> URL? in
                guard let data else { return nil }
                let url = data.appendingPathComponent(name)
                return fileManager.fileExists(atPath: url.path) ? url : nil
            }
            translations.append(Translations(folder: folder, direction: reverse ? "B→A" : "A→B",
                                             inputs: existing(inputName), truth: existing(truthName)))
        }
        self.translations = translations
        self.warnings = warnings
    }

    /// The sample grids in training order (mid-epoch grids by step, the epoch-end grid last).
    static func samples(in folder: URL) -> [Sample] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var out: [Sample] = []
        for name in names where name.hasSuffix(".png") && name.hasPrefix("epoch") {
            let stem = String(name.dropFirst("epoch".count).dropLast(".png".count))
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard let epoch = parts.first.flatMap({ Int($0) }) else { continue }
            var step: Int?
            if parts.count == 2 {
                guard parts[1].hasPrefix("step"), let s = Int(parts[1].dropFirst("step".count)) else { continue }
                step = s
            }
            out.append(Sample(url: folder.appendingPathComponent(name), epoch: epoch, step: step))
        }
        return out.sorted { ($0.epoch, $0.step ?? Int.max) < ($1.epoch, $1.step ?? Int.max) }
    }

    /// The data folder of `options.json` (often relative to where `cyclex train` ran): as given,
    /// else relative to the run folder's ancestors.
    static func locate(dataRoot: String, runDirectory: URL) -> URL? {
        let fileManager = FileManager.default
        if dataRoot.hasPrefix("/") { return fileManager.fileExists(atPath: dataRoot) ? URL(fileURLWithPath: dataRoot) : nil }
        var candidates = [URL(fileURLWithPath: dataRoot)]
        var ancestor = runDirectory.standardizedFileURL
        for _ in 0..<4 {
            ancestor = ancestor.deletingLastPathComponent()
            candidates.append(ancestor.appendingPathComponent(dataRoot))
        }
        return candidates.first { fileManager.fileExists(atPath: $0.path) }
    }
}
