import ArgumentParser
import CyclexEngine
import CyclexTraining
import Foundation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained HTML page about one or more runs: loss curves, scores, samples, test translations.",
        discussion: """
            cyclex report checkpoints/emoji-cyclegan checkpoints/emoji-xai-cyclegan -o compare.html
            Several runs share each chart's axes (same colour per value, dash pattern per run). The page
            embeds its images and needs no server, script or network. Test translations are shown for
            folders named test-translations* inside a run (b2a in the name: B->A), with the data
            folder's testA/testB as inputs and truth.
            """)

    @Argument(help: "Run folders (checkpoints/<name>).")
    var runs: [String]

    @Option(name: [.short, .customLong("output")], help: "The HTML file to write (default: report.html in the first run folder).")
    var output: String?

    @Option(help: "Horizontal axis of the charts: step or time (training minutes, for equal-budget comparisons).")
    var xAxis: TrainingReport.XAxis = .step

    @Option(help: "Data folder with testA/ testB/ (default: the one in the run's options.json).")
    var data: String?

    @Option(help: "Most sample grids shown per run.")
    var samples = 8

    @Option(help: "Most test translations shown per folder.")
    var translations = 16

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("name at least one run folder") }
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1") }
        guard translations >= 0 else { throw ValidationError("--translations must not be negative") }
    }

    func run() throws {
        try reportingErrors {
            let folders = try runs.map { try RunFolder(URL(fileURLWithPath: $0), dataRoot: data.map { URL(fileURLWithPath: $0) }) }
            for warning in folders.flatMap(\.warnings) { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            var report = TrainingReport(runs: folders)
            report.xAxis = xAxis
            report.maximumSamples = samples
            report.maximumTranslationRows = translations
            report.generator = CyclexVersion.string
            let url = output.map { URL(fileURLWithPath: $0) } ?? folders[0].directory.appendingPathComponent("report.html")
            let page = try report.html()
            try AtomicFile.write(Data(page.utf8), to: url)
            print(url.standardizedFileURL.path)
        }
    }
}

extension TrainingReport.XAxis: ExpressibleByArgument {}
