import Foundation

/// Progress on standard error: one line redrawn in place on a terminal, plain lines every
/// `plainEvery` steps otherwise (logs, CI).
public final class ProgressDisplay {
    public let isTerminal: Bool
    public let plainEvery: Int
    private var lastDraw = 0.0

    public init(plainEvery: Int = 50) {
        isTerminal = isatty(STDERR_FILENO) != 0
        self.plainEvery = plainEvery
    }

    /// `3:25` or `1:02:03`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// Shows one step's state; `force` draws even between redraw intervals.
    public func update(_ line: @autoclosure () -> String, step: Int, force: Bool = false) {
        let now = Date().timeIntervalSince1970
        if isTerminal {
            guard force || now - lastDraw > 0.25 else { return }
            lastDraw = now
            let text = line()
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
        } else if force || step % plainEvery == 0 {
            FileHandle.standardError.write(Data((line() + "\n").utf8))
        }
    }

    /// A permanent message (ends the in-place line first).
    public func message(_ text: String) {
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[2K" : "") + text + "\n").utf8))
    }

    /// `[=====>    ]`
    public static func bar(_ fraction: Double, width: Int = 20) -> String {
        let filled = max(0, min(width, Int(fraction * Double(width))))
        return "[" + String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1)) + "]"
    }
}
