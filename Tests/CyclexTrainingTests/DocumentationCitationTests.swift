import Foundation
import Testing

/// The code cites `docs/<page>.md#<section>` for what it computes; these tests keep every such
/// citation (in Sources, Tests, README and the docs' own links) pointing at a page and heading
/// that exist, so a renamed heading cannot silently orphan the comments that cite it.
struct DocumentationCitationTests {
    /// The package root: this file is `<root>/Tests/CyclexTrainingTests/<name>.swift`.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// GitHub's heading anchor: lower case, backticks and punctuation dropped (letters, digits,
    /// spaces, hyphens and underscores kept), spaces to hyphens; repeats get `-1`, `-2`, ….
    static func anchor(ofHeading heading: String) -> String {
        let kept = heading.lowercased().unicodeScalars.filter {
            CharacterSet.alphanumerics.contains($0) || $0 == " " || $0 == "-" || $0 == "_"
        }
        return String(String.UnicodeScalarView(kept)).replacingOccurrences(of: " ", with: "-")
    }

    /// Anchors of every heading of a Markdown file, fenced code blocks skipped.
    static func anchors(inMarkdown text: String) -> Set<String> {
        var result = Set<String>(), seen: [String: Int] = [:]
        var inFence = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inFence.toggle(); continue }
            guard !inFence, line.hasPrefix("#") else { continue }
            let title = line.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces)
            let base = anchor(ofHeading: title)
            let count = seen[base, default: 0]
            seen[base] = count + 1
            result.insert(count == 0 ? base : "\(base)-\(count)")
        }
        return result
    }

    /// Page name → its anchors, for every `docs/*.md`.
    static func documentationPages() throws -> [String: Set<String>] {
        let docs = root.appendingPathComponent("docs")
        var pages: [String: Set<String>] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: docs.path) where name.hasSuffix(".md") {
            pages[name] = anchors(inMarkdown: try String(contentsOf: docs.appendingPathComponent(name), encoding: .utf8))
        }
        return pages
    }

    /// Files whose text may cite the docs: Swift sources and tests, the README, the docs themselves.
    static func citingFiles() -> [URL] {
        var files = [root.appendingPathComponent("README.md")]
        for folder in ["Sources", "Tests", "docs"] {
            guard let walker = FileManager.default.enumerator(at: root.appendingPathComponent(folder),
                                                               includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where ["swift", "md", "c", "h", "py"].contains(url.pathExtension) {
                files.append(url)
            }
        }
        return files
    }

    /// (page, anchor or nil, line) for every `docs/<page>.md[#anchor]` in `text`, plus, inside a
    /// docs page, Markdown links `(<page>.md#anchor)` and `(#anchor)` (page = `ownPage`).
    static func citations(in text: String, ownPage: String?) -> [(page: String, anchor: String?, line: Int)] {
        let docsReference = /docs\/([A-Za-z0-9_-]+\.md)(?:#([^\s)`'",;:<>]+))?/
        let relativeLink = /\]\(([A-Za-z0-9_-]+\.md)?#([^\s)]+)\)/
        var found: [(page: String, anchor: String?, line: Int)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for match in line.matches(of: docsReference) {
                found.append((String(match.1), match.2.map { trimmed(String($0)) }, index + 1))
            }
            guard let ownPage else { continue }
            for match in line.matches(of: relativeLink) {
                found.append((match.1.map(String.init) ?? ownPage, trimmed(String(match.2)), index + 1))
            }
        }
        return found
    }

    static func trimmed(_ anchor: String) -> String {
        var a = anchor
        while a.hasSuffix(".") { a.removeLast() }
        return a
    }

    /// Citations of documents that are not in the repository (the project's former outside spec
    /// and notes). What the code cites must live in `docs/`.
    static let outsideCitations = ["SPEC §", "SPEC.md", "SPEC Appendix", "SWIFT-NOTES", "RESULTS-torch-cpu.md"]

    @Test("No file cites documents outside the repository")
    func noOutsideCitations() throws {
        for file in Self.citingFiles() {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            // This file names the patterns it forbids.
            if file.lastPathComponent == URL(fileURLWithPath: #filePath).lastPathComponent { continue }
            let relative = file.path.replacingOccurrences(of: Self.root.path + "/", with: "")
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for pattern in Self.outsideCitations where line.contains(pattern) {
                    Issue.record("\(relative):\(index + 1) cites \"\(pattern)\", which is not in the repository; cite docs/ instead")
                }
            }
        }
    }

    @Test("Heading anchors follow GitHub's rule")
    func anchorRule() {
        #expect(Self.anchor(ofHeading: "xAI-CycleGAN decisions") == "xai-cyclegan-decisions")
        #expect(Self.anchor(ofHeading: "4. Generator inference") == "4-generator-inference")
        #expect(Self.anchor(ofHeading: "Images in and out (`CImageCodecs`)") == "images-in-and-out-cimagecodecs")
        #expect(Self.anchors(inMarkdown: "# A\n```\n# not a heading\n```\n## A\n") == ["a", "a-1"])
    }

    @Test("Every docs/<page>.md#<section> cited in the repository exists")
    func citedSectionsExist() throws {
        let pages = try Self.documentationPages()
        #expect(pages.count >= 4, "docs/ should hold the reference pages, found \(pages.keys.sorted())")
        var checked = 0
        for file in Self.citingFiles() {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            let isDocsPage = file.deletingLastPathComponent().lastPathComponent == "docs" && file.pathExtension == "md"
            let relative = file.path.replacingOccurrences(of: Self.root.path + "/", with: "")
            for citation in Self.citations(in: text, ownPage: isDocsPage ? file.lastPathComponent : nil) {
                // Placeholders in prose, such as `docs/<page>.md#<anchor>`.
                if citation.anchor?.hasPrefix("<") == true { continue }
                checked += 1
                guard let anchors = pages[citation.page] else {
                    Issue.record("\(relative):\(citation.line) cites docs/\(citation.page), which does not exist")
                    continue
                }
                if let anchor = citation.anchor, !anchors.contains(anchor) {
                    Issue.record("\(relative):\(citation.line) cites \(citation.page)#\(anchor); that page has no such heading")
                }
            }
        }
        #expect(checked > 0, "no citations found under \(Self.root.path)")
    }
}
