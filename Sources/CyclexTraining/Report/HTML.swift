import CyclexImaging
import Foundation

/// Small helpers for writing the report as well-formed XHTML (every element closed, every
/// attribute quoted, only XML's five named entities).
public enum HTML {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and attribute values.
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// An `<img>` whose source is the image itself as a base64 PNG data URI, scaled down (bicubic,
    /// aspect kept) when wider than `maximumWidth`, so the page needs no other file.
    public static func embeddedImage(_ image: Image, maximumWidth: Int, alt: String) throws -> String {
        var image = image.converted(toBitDepth: 8)
        if image.width > maximumWidth {
            let height = max(1, Int((Double(image.height) * Double(maximumWidth) / Double(image.width)).rounded()))
            image = image.resized(to: ImageSize(width: maximumWidth, height: height), filter: .bicubic)
        }
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-report-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: temporary) }
        try image.write(to: temporary, format: .png(compressionLevel: 6))
        let bytes = try Data(contentsOf: temporary)
        return "<img src=\"data:image/png;base64,\(bytes.base64EncodedString())\" width=\"\(image.width)\" height=\"\(image.height)\" alt=\"\(escaped(alt))\"/>"
    }
}
