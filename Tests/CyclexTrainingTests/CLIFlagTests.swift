import Foundation
import Testing

/// The `cyclex` executable built next to this test bundle (`swift build --build-tests` and
/// `swift test` build every product).
func cyclexExecutable() -> URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("cyclex")
}

/// Runs `cyclex arguments…` in `directory`; returns the exit status and what it printed.
func runCyclex(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:])
    throws -> (status: Int32, stdout: String, stderr: String)
{
    let process = Process()
    process.executableURL = cyclexExecutable()
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
    let errData = Box()
    let reader = Thread { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.value, as: UTF8.self))
}

final class Box: @unchecked Sendable { var value = Data() }

@Suite("Flags: out-of-range values are one-line errors naming the flag, exit 64, never traps")
struct CLIFlagTests {
    @Test("The cyclex executable is built next to the tests")
    func executableExists() {
        #expect(FileManager.default.isExecutableFile(atPath: cyclexExecutable().path),
                "\(cyclexExecutable().path) is missing: build with `swift build --build-tests`")
    }

    @Test("train refuses out-of-range flags", arguments: [
        (["--size", "65536"], "--size 65536"),
        (["--size", "9223372036854775800"], "--size 9223372036854775800"),
        (["--size", "0"], "--size 0"),
        (["--size", "12"], "--size 12"),
        (["--epochs", "9223372036854775807"], "--epochs 9223372036854775807"),
        (["--epochs", "0"], "--epochs 0"),
        (["--batch-size", "0"], "--batch-size 0"),
        (["--batch-size", "9223372036854775807"], "--batch-size 9223372036854775807"),
        (["--max-steps", "0"], "--max-steps 0"),
        (["--max-steps=-5"], "--max-steps -5"),
        (["--time-limit=-5"], "--time-limit '-5'"),
        (["--time-limit", "0"], "--time-limit '0'"),
        (["--time-limit", "nan"], "--time-limit 'nan'"),
        (["--time-limit", "infm"], "--time-limit 'infm'"),
        (["--time-limit", "soon"], "--time-limit 'soon'"),
        (["--gamma", "nan"], "--gamma nan"),
        (["--gamma=-1"], "--gamma -1.0"),
        (["--decay-epochs", "11"], "--decay-epochs 11"),
        (["--decay-steps", "5"], "--decay-steps 5"),
        (["--decay-steps", "5", "--max-steps", "4"], "--decay-steps 5"),
        (["--decay-steps=-1", "--max-steps", "4"], "--decay-steps -1"),
        (["--decay-steps", "2", "--max-steps", "4", "--decay-epochs", "1"], "--decay-steps and --decay-epochs"),
        (["--sample-every=-1"], "--sample-every -1"),
        (["--snapshot-every=-1"], "--snapshot-every -1"),
        (["--name", "../../x"], "--name '../../x'"),
        (["--name", ""], "--name ''"),
        (["--name", ".."], "--name '..'"),
        (["--name", "a/b"], "--name 'a/b'"),
        (["--preprocess", "none", "--model", "xai-cyclegan"], "--preprocess none"),
    ])
    func trainBounds(flags: [String], expected: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runCyclex(["train", "data"] + flags, in: folder)
        #expect(result.status == 64)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(result.stderr)")
        #expect(lines.first?.hasPrefix("Error: \(expected):") == true, "\(result.stderr)")
        // Nothing was created: validation runs before any folder is touched.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) == [])
    }

    @Test("translate refuses out-of-range flags", arguments: [
        (["--size", "32768"], "--size '32768'"),
        (["--size", "16384x16384"], "--size '16384x16384'"),
        (["--size", "0"], "--size '0'"),
        (["--size=-5x3"], "--size '-5x3'"),
        (["--tile", "9223372036854775807"], "--tile 9223372036854775807"),
        (["--tile", "8"], "--tile 8"),
        (["--tile-overlap", "300"], "--tile-overlap 300"),
        (["--tile-overlap=-1"], "--tile-overlap -1"),
        (["--jpeg-quality", "0"], "--jpeg-quality 0"),
        (["--shard", "3/2"], "--shard '3/2'"),
    ])
    func translateBounds(flags: [String], expected: String) throws {
        let result = try runCyclex(["translate", "in.png", "out.png"] + flags)
        #expect(result.status == 64)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("Error: \(expected):"), "\(result.stderr)")
    }
}
