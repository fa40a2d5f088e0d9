import CyclexImaging
@testable import CyclexTraining
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// `cyclex report` on run folders the test writes: the page must be well-formed XHTML, draw one
/// chart per group of logged names (taken from the log, including names no model uses), reference
/// nothing outside itself, and embed images that decode at the size the page states.
struct TrainingReportTests {
    /// Every element of a parsed page with its attributes.
    final class Elements: NSObject, XMLParserDelegate {
        var list: [(name: String, attributes: [String: String])] = []
        var error: Error?
        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            list.append((elementName, attributes))
        }
        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }
    }

    static func parse(_ page: String) throws -> Elements {
        let parser = XMLParser(data: Data(page.utf8))
        let elements = Elements()
        parser.delegate = elements
        let ok = parser.parse()
        #expect(ok, "not well-formed: \(String(describing: elements.error ?? parser.parserError))")
        return elements
    }

    /// A run folder with a log of `names`, an evaluation line, three sample grids, and a folder of
    /// test translations of a data folder with testA/testB.
    static func makeRun(in root: URL, name: String, names: [String], steps: Int) throws -> URL {
        let run = root.appendingPathComponent(name)
        let samples = run.appendingPathComponent("samples")
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        var log = ""
        for step in 1...steps {
            let values = names.enumerated().map { i, n in "\"\(n)\":\(Double(i + 1) / Double(step) + 0.01 * Double(step % 3))" }
            log += "{\"step\":\(step),\"epoch\":\(step * 2 / steps),\"time\":\(1_700_000_000 + step),\"lr\":0.0002,"
                + values.joined(separator: ",") + "}\n"
            if step % 10 == 0 {
                log += "{\"event\":\"eval\",\"step\":\(step),\"epoch\":1,\"time\":\(1_700_000_000 + step),\"kid_a2b\":\(0.1 / Double(step)),\"l1_a2b\":0.2}\n"
            }
        }
        log += "{\"step\":99,\"G\":1.0"  // a line cut short by a crash
        try Data(log.utf8).write(to: run.appendingPathComponent("log.jsonl"))
        let data = root.appendingPathComponent("data")
        try Data("{\"dataRoot\":\"\(data.path)\",\"model\":\"cyclegan\",\"preset\":\"tiny\",\"size\":16}".utf8)
            .write(to: run.appendingPathComponent("options.json"))
        func grid(_ v: UInt8, width: Int) -> Image {
            Image(width: width, height: 20, channels: 3, samples: (0..<(width * 20 * 3)).map { UInt8(truncatingIfNeeded: Int(v) + $0 % 7) })
        }
        try grid(10, width: 30).write(to: samples.appendingPathComponent("epoch000_step0000010.png"))
        try grid(90, width: 30).write(to: samples.appendingPathComponent("epoch000.png"))
        try grid(200, width: 900).write(to: samples.appendingPathComponent("epoch001.png"))  // scaled down
        let translations = run.appendingPathComponent("test-translations")
        for folder in [translations, data.appendingPathComponent("testA"), data.appendingPathComponent("testB")] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        for (i, file) in ["x.png", "y.png"].enumerated() {
            let flat = { (v: UInt8) in Image(width: 16, height: 16, channels: 3, samples: [UInt8](repeating: v, count: 16 * 16 * 3)) }
            try flat(UInt8(100 + i)).write(to: data.appendingPathComponent("testA").appendingPathComponent(file))
            try flat(UInt8(150 + i)).write(to: translations.appendingPathComponent(file))
            try flat(UInt8(160 + i)).write(to: data.appendingPathComponent("testB").appendingPathComponent(file))
        }
        return run
    }

    /// docs/training.md#convergence: the first epoch from which every later FID stays within 10 % of the best.
    @Test func convergenceIsTheStartOfTheSettledStretch() throws {
        func points(_ values: [Double]) -> [RunHistory.Point] {
            values.enumerated().map { RunHistory.Point(step: 100 * ($0.offset + 1), epoch: $0.offset + 1, trainingTime: 0, value: $0.element) }
        }
        // Best 10 at epoch 6, band up to 11: epochs 4–7 stay inside, epoch 3 (12) does not.
        let c = try #require(Convergence(name: "fid_lenet", points: points([40, 20, 12, 10.5, 11, 10, 10.8])))
        #expect(c.settledEpoch == 4 && c.bestValue == 10 && c.bestEpoch == 6 && c.finalEpoch == 7)
        #expect(Convergence(name: "fid", points: points([40, 20, 12]))?.settledEpoch == 3)
        #expect(Convergence(name: "fid", points: points([30, 10, 10.5, 13]))?.settledEpoch == nil)  // worse again at the end
        #expect(Convergence(name: "fid", points: points([5, 4.7, 4.6]), band: 0.05)?.settledEpoch == 2)
        #expect(Convergence(name: "fid", points: []) == nil && Convergence(name: "fid", points: points([0, 0])) == nil)
        #expect(Convergence.applies(to: "fid_lenet") && !Convergence.applies(to: "kid_lenet") && !Convergence.applies(to: "ssim_a2b"))

        // The report shows it for runs that logged FIDs.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-conv-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("gan")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        var log = ""
        for (e, fid) in [40.0, 20, 12, 10.5, 11, 10, 10.8].enumerated() {
            log += "{\"step\":\(e + 1),\"epoch\":\(e + 1),\"time\":\(1_700_000_000 + e),\"G\":1.0}\n"
            log += "{\"event\":\"eval\",\"step\":\(e + 1),\"epoch\":\(e + 1),\"time\":\(1_700_000_000 + e),\"fid_lenet\":\(fid),\"kid_lenet\":0.1}\n"
        }
        try Data(log.utf8).write(to: run.appendingPathComponent("log.jsonl"))
        try Data("{\"dataRoot\":\"x\",\"network\":\"dense\",\"rule\":\"logicgan\",\"explainer\":\"shap\",\"fraction\":0.35,\"classes\":[\"7\"]}".utf8)
            .write(to: run.appendingPathComponent("options.json"))
        let page = try TrainingReport(runs: [try RunFolder(run)]).html()
        _ = try Self.parse(page)
        // A single GAN's row names its networks, rule, explainer and data selection.
        #expect(page.contains("<td>dense GAN, logicgan rule, explainer shap</td><td>–</td><td>32</td><td>x, 0.35 of the images, classes 7</td>"))
        #expect(page.contains("<h3>Convergence</h3>") && page.contains("<td>fid_lenet</td><td>4</td><td>10.000 (epoch 6)</td>"))
    }

    @Test func groupsComeFromTheNames() {
        #expect(RunHistory.group(of: "G") == "G")
        #expect(RunHistory.group(of: "G_A") == "G")
        #expect(RunHistory.group(of: "lambda_Dm_B") == "lambda")
        #expect(RunHistory.group(of: "pass1.lambda_A") == "pass1.lambda")
        #expect(RunHistory.group(of: "cycle") == "cycle")
    }

    @Test func ticksAreRoundAndLabelsTellThemApart() {
        #expect(LineChart.ticks(0, 10) == [0, 2, 4, 6, 8, 10])
        #expect(LineChart.ticks(0.3, 0.72).map { LineChart.label($0, step: 0.1) } == ["0.3", "0.4", "0.5", "0.6", "0.7"])
        #expect(LineChart.label(0.00018, step: 0.00002) == "0.00018")
        #expect(LineChart.label(300, step: 100) == "300")
        // A nearly constant series (a float learning rate) gets a ±10% range, not ticks 1e-12 apart.
        let chart = LineChart(identifier: "c", title: "lr", xLabel: "step",
                              series: [.init(label: "lr", colorIndex: 0, runIndex: 0,
                                             points: [(1, 0.0002), (2, 0.00019999999), (3, 0.0002)])])
        #expect(chart.svg().contains(">0.0002<") && chart.svg().contains(">0.00021<"))
    }

    @Test func historySkipsBrokenLinesAndSplitsEvaluations() {
        let text = """
            {"step":1,"epoch":0,"time":100,"G":2.5,"D_A":null,"note":"x"}
            not json
            {"step":2,"epoch":0,"time":101,"G":2.0,"D_A":0.5}
            {"event":"eval","step":2,"epoch":0,"time":1000,"kid":0.05}
            {"step":3,"epoch":1,"time":1001.5,"G":1.5}
            {"epoch":1}
            """
        let h = RunHistory(jsonLines: Data(text.utf8))
        #expect(h.skippedLines == 2)
        #expect(h.training.map(\.name) == ["G", "D_A"])
        #expect(h.training[0].points.map(\.value) == [2.5, 2.0, 1.5])
        #expect(h.training[1].points.map(\.step) == [2])  // null is not drawn
        #expect(h.evaluation.map(\.name) == ["kid"] && h.evaluation[0].points[0].value == 0.05)
        // 899 s gap = a pause (not training time): 1 + 0 + 1.5 s.
        #expect(abs(h.trainingSeconds - 2.5) < 1e-9)
        #expect(h.lastStep == 3 && h.lastEpoch == 1)
    }

    @Test func pageIsSelfContainedWithOneChartPerGroup() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-report-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        // Groups: lr, G (G, G_A, G_B), D (D_A, D_B), cycle, zeta (a name no model uses), pass1.lambda.
        let names = ["G", "G_A", "G_B", "D_A", "D_B", "cycle_A", "zeta_X", "pass1.lambda_A", "pass1.lambda_B"]
        let run = try Self.makeRun(in: root, name: "run1", names: names, steps: 600)
        let folder = try RunFolder(run)
        #expect(folder.samples.map(\.caption) == ["epoch 0, step 10", "end of epoch 0", "end of epoch 1"])
        #expect(folder.translations.count == 1 && folder.translations[0].truth != nil && folder.translations[0].inputs != nil)
        #expect(folder.warnings.count == 1 && folder.warnings[0].contains("1 line"))

        let page = try TrainingReport(runs: [folder]).html()
        let elements = try Self.parse(page)
        let charts = elements.list.filter { $0.name == "svg" && $0.attributes["class"] == "chart" }
        #expect(charts.count == 6 + 2)  // six training groups, two evaluation groups (kid, l1)
        let captions = ["lr", "G", "D", "cycle", "zeta", "pass1.lambda", "kid", "l1"]
        for caption in captions { #expect(page.contains("<figcaption>\(caption)</figcaption>")) }
        try Self.expectSelfContained(page, elements)

        // 3 sample grids + 2 rows × 3 test images; the wide grid is scaled to the page's limit.
        let images = elements.list.filter { $0.name == "img" }
        #expect(images.count == 3 + 6)
        #expect(images.contains { $0.attributes["width"] == "420" })
        // Scores against identity: translations 10/255 from the truth, inputs 60/255.
        #expect(page.contains(String(format: "%.4f", 10.0 / 255)) && page.contains(String(format: "%.4f", 60.0 / 255)))
    }

    @Test func severalRunsShareTheCharts() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-report-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = try RunFolder(Self.makeRun(in: root, name: "cyclegan", names: ["G_A", "D_A"], steps: 30))
        let b = try RunFolder(Self.makeRun(in: root, name: "xai", names: ["G_A", "adv_AB", "lambda_D_B"], steps: 40))
        var report = TrainingReport(runs: [a, b])
        report.xAxis = .time
        let page = try report.html()
        let elements = try Self.parse(page)
        // lr, G, D, adv, lambda + kid, l1: the union of both logs' groups.
        #expect(elements.list.filter { $0.name == "svg" && $0.attributes["class"] == "chart" }.count == 5 + 2)
        // In the shared G chart both runs draw, the second dashed.
        let lines = elements.list.filter { $0.name == "polyline" && $0.attributes["class"] == "line" }
        #expect(lines.contains { $0.attributes["stroke-dasharray"] != nil })
        #expect(page.contains("G_A · cyclegan") && page.contains("G_A · xai"))
        try Self.expectSelfContained(page, elements)
    }

    @Test func notARunFolderIsNamed() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-report-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: ReportError.notARun(path: root.path)) { try RunFolder(root) }
    }

    /// No URL leaves the page: every src is a data URI whose PNG decodes to the stated size, every
    /// other reference is a fragment, and no "http" appears anywhere.
    static func expectSelfContained(_ page: String, _ elements: Elements) throws {
        #expect(!page.lowercased().contains("http"))
        #expect(!page.lowercased().contains("<script"))
        for element in elements.list {
            for (key, value) in element.attributes where ["src", "href", "xlink:href"].contains(key) {
                #expect(value.hasPrefix("data:image/png;base64,") || value.hasPrefix("#"), "\(key)=\(value.prefix(40))")
            }
            if element.name == "img", let src = element.attributes["src"] {
                let bytes = Data(base64Encoded: String(src.dropFirst("data:image/png;base64,".count)))
                #expect(bytes != nil)
                let image = try Image(decoding: [UInt8](bytes ?? Data()), name: "embedded")
                #expect("\(image.width)" == element.attributes["width"] && "\(image.height)" == element.attributes["height"])
            }
        }
    }
}
