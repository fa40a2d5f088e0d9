import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation
import Testing

/// The executable under stop signals, and `translate` next to its own inputs.
@Suite(.serialized)
struct CLISafetyTests {
    @Test("SIGTERM and SIGINT save a checkpoint and exit 143 / 130", arguments: [SIGTERM, SIGINT])
    func stopSignals(signal: Int32) throws {
        let root = try TrainerTests().makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        let process = Process()
        process.executableURL = cyclexExecutable()
        process.arguments = ["train", root.appendingPathComponent("data").path, "--preset", "tiny", "--size", "32",
                             "--epochs", "100000", "--sample-every", "0", "--snapshot-every", "0",
                             "--output", root.appendingPathComponent("runs").path, "--name", "stop"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let log = root.appendingPathComponent("runs/stop/log.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, ((try? Data(contentsOf: log))?.count ?? 0) == 0, process.isRunning { usleep(50_000) }
        #expect(process.isRunning, "the trainer ended before the signal")
        kill(process.processIdentifier, signal)
        // A stop must come within a step; never let a lost signal hang the suite.
        let stopDeadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stopDeadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("the trainer ignored the signal for 60 s")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + signal)
        let (_, progress) = try Checkpoint.load(root.appendingPathComponent("runs/stop/latest.safetensors"))
        let logged = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").count
        #expect(progress?.globalStep == logged && logged >= 1, "checkpoint at the last logged step")
    }

    @Test("translate never replaces its input, nor an existing file without --overwrite")
    func translateProtectsInputs() throws {
        let root = try TranslateTests.temporaryFolder("safety")
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoint = try TranslateTests.trainTinyCheckpoint(kind: .cycleGAN, root: root)
        let photos = root.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let photo = photos.appendingPathComponent("photo.png")
        try TranslateTests.smoothImage(width: 24, height: 20, seed: 1).write(to: photo)
        try TranslateTests.smoothImage(width: 24, height: 20, seed: 2).write(to: photos.appendingPathComponent("sub/b.png"))
        let original = try Data(contentsOf: photo)
        let link = root.appendingPathComponent("link.png")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: photo.path)
        let hard = root.appendingPathComponent("hard.png")
        try FileManager.default.linkItem(at: photo, to: hard)
        func translate(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runCyclex(["translate"] + arguments + ["--checkpoint", checkpoint.path], in: root)
        }
        for (output, flags) in [("photos/photo.png", []), ("photos/photo.png", ["--overwrite"]), ("./photos/../photos/photo.png", ["--overwrite"]),
                                (link.path, ["--overwrite"]), (hard.path, ["--overwrite"]), ("photos/", ["--overwrite"])] {
            let result = try translate(["photos/photo.png", output] + flags)
            #expect(result.status == 1, "\(output) \(flags)")
            #expect(result.stderr.contains("is the input"), "\(output): \(result.stderr)")
        }
        #expect(try Data(contentsOf: photo) == original)

        let existing = root.appendingPathComponent("zebra.png")
        try Data("keep me".utf8).write(to: existing)
        let refused = try translate(["photos/photo.png", "zebra.png"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("zebra.png: already exists; pass --overwrite to replace it"), "\(refused.stderr)")
        #expect(try Data(contentsOf: existing) == Data("keep me".utf8))
        let replaced = try translate(["photos/photo.png", "zebra.png", "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try Image(contentsOf: existing).width == 24)

        // Folder mode: the input folder itself, a folder inside it (also through a link), are refused.
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("photos-link").path, withDestinationPath: photos.path)
        for (output, expected) in [("photos", "is the input"), ("photos-link/", "is the input"), ("photos/out", "is inside the input folder"),
                                   ("photos-link/sub/new", "is inside the input folder")] {
            let result = try translate(["photos", output])
            #expect(result.status == 1, "\(output)")
            #expect(result.stderr.contains(expected), "\(output): \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: photos.path).sorted() == ["photo.png", "sub"])
        let folder = try translate(["photos", "zebras"])
        #expect(folder.status == 0, "\(folder.stderr)")
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("zebras/sub/b.png").path))
    }

    @Test("A folder without a checkpoint is not counted as a run")
    func emptyRunFolderIsNotARun() throws {
        let root = try TranslateTests.temporaryFolder("runs")
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoint = try TranslateTests.trainTinyCheckpoint(kind: .cycleGAN, root: root)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("checkpoints/empty-run/samples"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("checkpoints/real"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: checkpoint, to: root.appendingPathComponent("checkpoints/real/latest.safetensors"))
        try TranslateTests.smoothImage(width: 16, height: 16, seed: 3).write(to: root.appendingPathComponent("in.png"))
        let result = try runCyclex(["translate", "in.png", "out.png"], in: root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("checkpoints/real/latest.safetensors (only run)"), "\(result.stderr)")
    }
}
