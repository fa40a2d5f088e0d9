import CyclexImaging
import CyclexInference
import Foundation

/// `cyclex report`: one self-contained HTML page (well-formed XHTML, no script, no external
/// file or URL) describing one or more runs:
///
/// 1. a table of the runs and, for folders of test translations, their paired scores beside the
///    untranslated inputs' (the identity baseline);
/// 2. one SVG chart per group of logged values (`RunHistory.group(of:)`), all runs on shared axes,
///    raw values faint under a smoothed curve;
/// 3. one chart per group of evaluation scores, when the logs hold any;
/// 4. sample grids of the probe images over training, embedded as PNG (at most `maximumSamples`
///    per run, evenly spread, the last always included);
/// 5. a table of test translations, input | translation | truth, with per-image L1.
public struct TrainingReport {
    public enum XAxis: String, CaseIterable, Sendable {
        case step
        /// Training time in minutes (pauses between sessions left out), for equal-budget comparisons.
        case time
    }

    public var runs: [RunFolder]
    public var xAxis: XAxis = .step
    public var maximumSamples = 8
    public var maximumTranslationRows = 16
    /// Sample grids wider than this are scaled down (pixels).
    public var maximumSampleWidth = 420
    /// Test images wider than this are scaled down (pixels).
    public var maximumTileWidth = 128
    /// Shown in the page's footer.
    public var generator = "cyclex"

    public init(runs: [RunFolder]) { self.runs = runs }

    /// Charts of the logged training values, one per group, in order of first appearance.
    public func trainingCharts() -> [LineChart] {
        charts(from: runs.map { $0.history.training }, smoothed: true, prefix: "loss")
    }

    /// Charts of the evaluation scores, one per group.
    public func evaluationCharts() -> [LineChart] {
        charts(from: runs.map { $0.history.evaluation }, smoothed: false, prefix: "eval")
    }

    func charts(from perRun: [[(name: String, points: [RunHistory.Point])]], smoothed: Bool, prefix: String) -> [LineChart] {
        var groups: [String] = []
        var names: [String: [String]] = [:]
        for list in perRun {
            for (name, _) in list {
                let group = RunHistory.group(of: name)
                if names[group] == nil { groups.append(group); names[group] = [] }
                if !names[group]!.contains(name) { names[group]!.append(name) }
            }
        }
        let xLabel = xAxis == .step ? "step" : "training time (minutes)"
        return groups.enumerated().map { index, group in
            var series: [LineChart.Series] = []
            for (runIndex, list) in perRun.enumerated() {
                for (name, points) in list where RunHistory.group(of: name) == group {
                    let colorIndex = names[group]!.firstIndex(of: name)!
                    let label = runs.count > 1 ? "\(name) · \(runs[runIndex].name)" : name
                    series.append(LineChart.Series(
                        label: label, colorIndex: colorIndex, runIndex: runIndex,
                        points: points.map { (xAxis == .step ? Double($0.step) : $0.trainingTime / 60, $0.value) }))
                }
            }
            return LineChart(identifier: "\(prefix)\(index)", title: group, xLabel: xLabel, series: series, isSmoothed: smoothed)
        }
    }

    /// The page.
    public func html() throws -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"/><title>\(HTML.escaped(title))</title>
            <style>\(Self.style)</style></head><body>
            <h1>\(HTML.escaped(title))</h1>

            """
        page += runTable()
        page += try scoreTable()

        let training = trainingCharts()
        page += "<h2>Training values</h2>\n"
        page += "<p class=\"note\">Every value in the logs, one chart per group of names (the part before the first “_”). "
            + "Faint: every logged value; bold: a moving mean over about 1/40 of the points."
            + (runs.count > 1 ? " Runs differ by dash pattern (see the table above)." : "") + "</p>\n"
        page += training.isEmpty ? "<p>No training values logged yet.</p>\n" : chartGrid(training)

        let evaluation = evaluationCharts()
        if !evaluation.isEmpty {
            page += "<h2>Evaluation during training</h2>\n" + chartGrid(evaluation) + convergenceTable()
        }

        for run in runs {
            page += try samplesSection(run)
            page += try explanationsSection(run)
            for translations in run.translations { page += try translationsSection(run, translations) }
        }
        let warnings = runs.flatMap(\.warnings)
        if !warnings.isEmpty {
            page += "<h2>Warnings</h2><ul>" + warnings.map { "<li>\(HTML.escaped($0))</li>" }.joined() + "</ul>\n"
        }
        page += "<p class=\"footer\">Written by \(HTML.escaped(generator)) on \(HTML.escaped(Self.timestamp())). One file, no scripts, nothing loaded from elsewhere.</p>\n"
        page += "</body></html>\n"
        return page
    }

    var title: String { "cyclex report: " + runs.map(\.name).joined(separator: ", ") }

    func runTable() -> String {
        var out = "<table class=\"runs\"><tr><th>run</th><th>line</th><th>model</th><th>preset</th><th>size</th><th>data</th><th>steps</th><th>epochs</th><th>training time</th></tr>\n"
        for (i, run) in runs.enumerated() {
            let h = run.history
            let dash = LineChart.dash(i)
            let swatch = "<svg class=\"swatch\" width=\"40\" height=\"10\"><line x1=\"0\" y1=\"5\" x2=\"40\" y2=\"5\" stroke=\"#333\" stroke-width=\"2\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/></svg>"
            var cells = [run.name, run.options["model"] ?? "?", run.options["preset"] ?? "?", run.options["size"] ?? "?",
                         run.options["dataRoot"] ?? "?", "\(h.lastStep)", "\(h.lastEpoch)", Self.duration(h.trainingSeconds)]
            if run.isSingleGAN {
                // A single GAN: its networks, rule and explainer; its data selection.
                let o = run.options
                cells[1] = "\(o["network"] ?? "?") GAN, \(o["rule"] ?? "?") rule, explainer \(o["explainer"] ?? "?")"
                cells[2] = "–"; cells[3] = "32"
                let fraction = o["fraction"].flatMap(Double.init).flatMap { $0 < 1 ? String(format: ", %g of the images", $0) : nil }
                let classes = o["classes"].flatMap { $0.isEmpty ? nil : ", classes \($0)" }
                cells[4] = (o["dataRoot"] ?? "?") + (fraction ?? "") + (classes ?? "")
            }
            out += "<tr><td>\(HTML.escaped(cells[0]))</td><td>\(swatch)</td>"
                + cells.dropFirst().map { "<td>\(HTML.escaped($0))</td>" }.joined() + "</tr>\n"
        }
        return out + "</table>\n"
    }

    /// Paired scores of each translation folder against the truth, beside the untranslated inputs'.
    func scoreTable() throws -> String {
        var rows = ""
        for run in runs {
            for t in run.translations {
                guard let truth = t.truth else { continue }
                guard let translated = try? PairedScore.compute(translated: t.folder, truth: truth), translated.pairs > 0 else { continue }
                let identity = t.inputs.flatMap { try? PairedScore.compute(translated: $0, truth: truth) }
                func ssim(_ s: PairedScore?) -> String { s?.meanSSIM.map { String(format: "%.4f", $0) } ?? "–" }
                rows += "<tr><td>\(HTML.escaped(run.name))</td><td>\(t.direction)</td><td>\(translated.pairs)</td>"
                    + "<td>\(String(format: "%.4f", translated.meanL1))</td><td>\(identity.map { String(format: "%.4f", $0.meanL1) } ?? "–")</td>"
                    + "<td>\(String(format: "%.2f", translated.meanPSNR))</td><td>\(identity.map { String(format: "%.2f", $0.meanPSNR) } ?? "–")</td>"
                    + "<td>\(ssim(translated))</td><td>\(ssim(identity))</td></tr>\n"
            }
        }
        guard !rows.isEmpty else { return "" }
        return "<h2>Test split: translation against identity</h2>\n"
            + "<p class=\"note\">Paired scores of the translated test images against their true counterparts, beside the same scores of the untranslated inputs (identity). "
            + "L1 on the [0, 1] scale (lower is better), PSNR in dB and SSIM (higher is better).</p>\n"
            + "<table class=\"scores\"><tr><th>run</th><th>direction</th><th>pairs</th><th>L1</th><th>L1 identity</th><th>PSNR</th><th>PSNR identity</th><th>SSIM</th><th>SSIM identity</th></tr>\n"
            + rows + "</table>\n"
    }

    func chartGrid(_ charts: [LineChart]) -> String {
        var out = "<div class=\"charts\">\n"
        for chart in charts {
            out += "<figure><figcaption>\(HTML.escaped(chart.title))</figcaption>" + chart.svg() + "<div class=\"legend\">"
            for s in chart.series where !s.points.isEmpty {
                let dash = LineChart.dash(s.runIndex)
                out += "<span><svg class=\"swatch\" width=\"28\" height=\"10\"><line x1=\"0\" y1=\"5\" x2=\"28\" y2=\"5\" stroke=\"\(LineChart.color(s.colorIndex))\" stroke-width=\"2.5\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/></svg>\(HTML.escaped(s.label))</span>"
            }
            out += "</div></figure>\n"
        }
        return out + "</div>\n"
    }

    /// Up to `maximumSamples` grids, evenly spread over training, the last one always included.
    func samplesSection(_ run: RunFolder) throws -> String {
        gridSection("Samples: \(run.name)", run.samples,
                    note: run.isSingleGAN ? "The generator on the same fixed noise at every grid."
                        : "Fixed probe images; each row real | translated | reconstructed, A→B rows first, then B→A.")
    }

    /// The explanation sheets of an explanation-guided run over training (see `ProbeExplaining`).
    func explanationsSection(_ run: RunFolder) throws -> String {
        gridSection("What the explanations see: \(run.name)", run.explanations,
                    note: "The probe images through the explanation machinery of the training step, at fixed masks: "
                        + "each row real | translation | saliency of the target domain's discriminator (its most confident patch) | "
                        + "the λ-weighted explanation map that rewrites the generator's gradient (same colour scale: faint when λ is small) | "
                        + "the augmented input mask minus 1 (noise plus λ-weighted mask-discriminator saliency). "
                        + "Red positive, blue negative, white zero.")
    }

    /// A heading, a note and up to `maximumSamples` of `sheets` (evenly spread, the last included)
    /// embedded with their captions; nothing when there are no sheets.
    func gridSection(_ title: String, _ sheets: [RunFolder.Sample], note: String) -> String {
        guard !sheets.isEmpty else { return "" }
        let chosen = Self.evenlySpread(sheets.count, keeping: maximumSamples).map { sheets[$0] }
        var out = "<h2>\(HTML.escaped(title))</h2>\n"
        out += "<p class=\"note\">\(HTML.escaped(note)) \(chosen.count) of \(sheets.count) sheets.</p>\n<div class=\"samples\">\n"
        for sample in chosen {
            let tag: String
            do {
                tag = try HTML.embeddedImage(Image(contentsOf: sample.url), maximumWidth: maximumSampleWidth, alt: sample.caption)
            } catch {
                tag = "<span class=\"error\">\(HTML.escaped(error.localizedDescription))</span>"
            }
            out += "<figure>\(tag)<figcaption>\(HTML.escaped(sample.caption))</figcaption></figure>\n"
        }
        return out + "</div>\n"
    }

    /// Input | translation | truth for up to `maximumTranslationRows` test images, with per-image L1.
    func translationsSection(_ run: RunFolder, _ t: RunFolder.Translations) throws -> String {
        guard let folder = try? ImageFolder(t.folder) else { return "" }
        let stems = { (root: URL?) -> [String: URL] in
            guard let root, let listing = try? ImageFolder(root) else { return [:] }
            var out: [String: URL] = [:]
            for url in listing.files { out[(listing.relativePath(of: url) as NSString).deletingPathExtension] = url }
            return out
        }
        let (inputs, truths) = (stems(t.inputs), stems(t.truth))
        let chosen = Self.evenlySpread(folder.files.count, keeping: maximumTranslationRows).map { folder.files[$0] }
        var out = "<h2>Test translations \(t.direction): \(HTML.escaped(run.name))</h2>\n"
        out += "<p class=\"note\">\(chosen.count) of \(folder.files.count) images in \(HTML.escaped(t.folder.path)). "
            + "L1 against the truth on the [0, 1] scale; “identity” is the untranslated input's.</p>\n"
        out += "<table class=\"translations\"><tr><th>image</th><th>input</th><th>translation</th><th>truth</th><th>L1</th><th>L1 identity</th></tr>\n"
        for url in chosen {
            let stem = (folder.relativePath(of: url) as NSString).deletingPathExtension
            func cell(_ file: URL?) -> (String, Image?) {
                guard let file else { return ("<td class=\"missing\">–</td>", nil) }
                do {
                    let image = try Image(contentsOf: file)
                    return ("<td>" + (try HTML.embeddedImage(image, maximumWidth: maximumTileWidth, alt: file.lastPathComponent)) + "</td>", image)
                } catch {
                    return ("<td class=\"error\">\(HTML.escaped(error.localizedDescription))</td>", nil)
                }
            }
            let (inputCell, input) = cell(inputs[stem]), (translationCell, translation) = cell(url), (truthCell, truth) = cell(truths[stem])
            func l1(_ a: Image?) -> String {
                guard let a, let truth, let v = Self.meanAbsoluteDifference(a, truth) else { return "–" }
                return String(format: "%.4f", v)
            }
            out += "<tr><td>\(HTML.escaped(stem))</td>\(inputCell)\(translationCell)\(truthCell)<td>\(l1(translation))</td><td>\(l1(input))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// Mean |a − b| on the [0, 1] scale over RGB samples (b resized to a's size).
    static func meanAbsoluteDifference(_ a: Image, _ b: Image) -> Double? {
        guard a.width > 0, a.height > 0 else { return nil }
        return PairedScore.score(a, against: b).l1
    }

    /// `keeping` indices of `0..<count`, evenly spread, the first and last included.
    static func evenlySpread(_ count: Int, keeping: Int) -> [Int] {
        guard count > keeping, keeping > 1 else { return Array(0..<min(count, max(keeping, 1))) }
        return (0..<keeping).map { Int((Double($0) * Double(count - 1) / Double(keeping - 1)).rounded()) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d h %02d min", s / 3600, (s % 3600) / 60) : String(format: "%d min %02d s", s / 60, s % 60)
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }

    static let style = """
        body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px;color:#222;max-width:1400px}
        h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
        table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
        th{background:#f4f4f4}.note{color:#555;font-size:13px}.footer{color:#888;font-size:12px;margin-top:32px}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
        figure{margin:0}figcaption{font-weight:600;font-size:14px;margin:4px 0}
        svg.chart{width:100%;height:auto;background:#fff}
        .plot{fill:#fbfbfb;stroke:#ccc}.grid{stroke:#e6e6e6;stroke-width:1}
        .tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}
        .raw{fill:none;stroke-width:1;opacity:.22}.line{fill:none;stroke-width:2}
        .legend{font-size:12px;display:flex;flex-wrap:wrap;gap:4px 14px}.legend span{white-space:nowrap}
        .swatch{vertical-align:middle;margin-right:4px}
        .samples{display:flex;flex-wrap:wrap;gap:12px}.samples figcaption{font-weight:400;font-size:12px;color:#555}
        .translations img{image-rendering:pixelated;width:112px;height:auto}
        .error{color:#b00}.missing{color:#999}
        """
}
