import CyclexEngine
import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation
import Testing

/// Run folders, logs and resumes under hostile conditions: a second trainer, run names that try
/// to leave `--output`, killed writes, a full disk, changed settings, mixed image sizes.
@Suite(.serialized)
struct RunSafetyTests {
    let helper = TrainerTests()

    func logSteps(_ url: URL) throws -> [Int] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return (object["step"] as! NSNumber).intValue
        }
    }

    @Test("A second trainer on a run in use stops with a clear message; the lock goes with its holder")
    func runIsLocked() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        let o = helper.options(root, kind: .cycleGAN, name: "locked", maxSteps: 1)
        let holder = try RunDirectory(output: URL(fileURLWithPath: o.output), name: "locked")
        #expect(throws: RunDirectoryError.inUse(path: holder.url.path, holder: "process \(getpid())")) {
            _ = try RunDirectory(output: URL(fileURLWithPath: o.output), name: "locked")
        }
        #expect { try helper.quietTrainer(o).run() } throws: { error in
            error.localizedDescription.contains("another trainer is using this run")
                && error.localizedDescription.hasPrefix(holder.url.path)
        }
        // The refused trainer did not remove the holder's folder.
        #expect(FileManager.default.fileExists(atPath: holder.url.path))
        holder.release()
        #expect(try helper.quietTrainer(o).run().progress.globalStep == 1)
    }

    @Test("Run names are single path components; an --output that is a file is named")
    func runNames() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        for name in ["../../x", "", ".", "..", "a/b", "/abs"] {
            var o = helper.options(root, kind: .cycleGAN, name: name, maxSteps: 1)
            o.name = name
            #expect(throws: RunDirectoryError.invalidName(name)) { try helper.quietTrainer(o).run() }
        }
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("x").path))
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("runs").path))
        let file = root.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: file)
        var o = helper.options(root, kind: .cycleGAN, name: "r", maxSteps: 1)
        o.output = file.path
        #expect { try helper.quietTrainer(o).run() } throws: { error in
            error.localizedDescription == "\(file.path): is a file, expected a folder for training runs"
        }
    }

    @Test("Temporary files of killed writes are removed on start; live writers' files are kept")
    func leftoversAreCleaned() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        let o = helper.options(root, kind: .cycleGAN, name: "left", maxSteps: 1)
        let run = URL(fileURLWithPath: o.output).appendingPathComponent("left")
        try FileManager.default.createDirectory(at: run.appendingPathComponent("samples"), withIntermediateDirectories: true)
        // pid_max is at most 2^22 on Linux, so these processes cannot exist.
        let dead = [".latest.safetensors.tmp-4194305", "samples/.epoch001.png.tmp-4194306"]
        let alive = ".options.json.tmp-\(getpid())"
        for name in dead + [alive] { try Data(count: 1000).write(to: run.appendingPathComponent(name)) }
        let directory = try RunDirectory(output: URL(fileURLWithPath: o.output), name: "left")
        #expect(directory.removedLeftovers == dead)
        #expect(!directory.created)
        for name in dead { #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent(name).path)) }
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(alive).path))
    }

    @Test("A failed train leaves no empty run folder; a run with a checkpoint is kept")
    func failedTrainLeavesNothing() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        var o = helper.options(root, kind: .cycleGAN, name: "fails", maxSteps: 1)
        o.dataRoot = root.appendingPathComponent("no-such-data").path
        #expect(throws: (any Error).self) { try helper.quietTrainer(o).run() }
        #expect(!FileManager.default.fileExists(atPath: URL(fileURLWithPath: o.output).appendingPathComponent("fails").path))
        // A run with a checkpoint survives a later failure.
        var good = helper.options(root, kind: .cycleGAN, name: "kept", maxSteps: 1)
        _ = try helper.quietTrainer(good).run()
        good.dataRoot = o.dataRoot
        #expect(throws: (any Error).self) { try helper.quietTrainer(good).run() }
        #expect(FileManager.default.fileExists(atPath: URL(fileURLWithPath: o.output).appendingPathComponent("kept/latest.safetensors").path))
    }

    @Test("Resume truncates the log to the checkpoint's step and drops a partial line")
    func logTruncatedOnResume() throws {
        let root = try helper.makeDataset(count: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let first = try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "log", maxSteps: 2)).run()
        let log = first.runDirectory.appendingPathComponent("log.jsonl")
        #expect(try logSteps(log) == [1, 2])
        // A kill after steps 3 and 4 were logged but before their checkpoint, mid-way through step 5's line.
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\":3,\"epoch\":1}\n{\"step\":4,\"epoch\":2}\n{\"step\":5,\"ep".utf8))
        try handle.close()
        _ = try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "log", maxSteps: 4)).run()
        #expect(try logSteps(log) == [1, 2, 3, 4])
        // --restart starts the log over.
        _ = try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "log", maxSteps: 1)).run(restart: true)
        #expect(try logSteps(log) == [1])
    }

    @Test("A full disk while logging is an error naming the log; the last checkpoint stays intact")
    func logWriteFailure() throws {
        #expect { try TrainingLog(url: URL(fileURLWithPath: "/dev/full"), keepingStepsThrough: 0).write(line: "{\"step\":1}\n") }
            throws: { error in error.localizedDescription.hasPrefix("/dev/full: cannot write the training log: No space left on device") }
        let root = try helper.makeDataset(count: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let first = try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "full", maxSteps: 1)).run()
        let log = first.runDirectory.appendingPathComponent("log.jsonl")
        let before = try Data(contentsOf: first.checkpoint)
        try FileManager.default.removeItem(at: log)
        try FileManager.default.createSymbolicLink(atPath: log.path, withDestinationPath: "/dev/full")
        #expect { try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "full", maxSteps: 3)).run() } throws: { error in
            error.localizedDescription.hasPrefix(log.path + ": cannot write the training log")
        }
        #expect(try Data(contentsOf: first.checkpoint) == before)
    }

    @Test("Resuming with another --batch-size, --seed or --preprocess is refused")
    func changedSettingsRefused() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "same", maxSteps: 1)).run()
        var batch = helper.options(root, kind: .cycleGAN, name: "same", maxSteps: 2)
        batch.batchSize = 2
        var seed = helper.options(root, kind: .cycleGAN, name: "same", maxSteps: 2)
        seed.seed = 4
        var preprocess = helper.options(root, kind: .cycleGAN, name: "same", maxSteps: 2)
        preprocess.preprocessing = .resize
        for (o, fragment) in [(batch, "--batch-size 2, the run used 1"), (seed, "--seed 4, the run used 3"),
                              (preprocess, "--preprocess resize, the run used resize_and_crop")] {
            #expect { try helper.quietTrainer(o).run() } throws: { error in
                error.localizedDescription.contains(fragment) && error.localizedDescription.contains("--restart")
            }
        }
        #expect(try helper.quietTrainer(helper.options(root, kind: .cycleGAN, name: "same", maxSteps: 2)).run().progress.globalStep == 2)
    }

    @Test("An epoch snapshot lost to a kill is written again, identical; identical runs give identical checkpoints")
    func snapshotRewrittenAndDeterministic() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        var o = helper.options(root, kind: .cycleGAN, name: "snap", maxSteps: 2)
        o.snapshotEvery = 1
        let first = try helper.quietTrainer(o).run()  // stops after the epoch's last step, before its end
        let latest = first.checkpoint, snapshot = first.runDirectory.appendingPathComponent("epoch001.safetensors")
        let beforeEpochEnd = try Data(contentsOf: latest)
        o.maxSteps = 3
        _ = try helper.quietTrainer(o).run()
        let written = try Data(contentsOf: snapshot)
        // Killed while writing the snapshot: `latest` had not moved on yet, the snapshot is a leftover.
        try FileManager.default.removeItem(at: snapshot)
        try Data(count: 100).write(to: first.runDirectory.appendingPathComponent(".epoch001.safetensors.tmp-4194307"))
        try beforeEpochEnd.write(to: latest)
        let resumed = try helper.quietTrainer(o).run()
        #expect(try Data(contentsOf: snapshot) == written)
        #expect(!FileManager.default.fileExists(atPath: first.runDirectory.appendingPathComponent(".epoch001.safetensors.tmp-4194307").path))
        // Another run with the same settings ends with the same bytes.
        var twin = o
        twin.name = "twin"
        let other = try helper.quietTrainer(twin).run()
        #expect(try Data(contentsOf: other.checkpoint) == Data(contentsOf: resumed.checkpoint))
    }

    @Test("--preprocess none with images of different sizes trains, checkpoints and resumes")
    func preprocessNoneMixedSizes() throws {
        let root = try helper.makeDataset(count: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        var g = RandomGenerator(seed: 5)
        for domain in ["trainA", "trainB"] {
            let samples = (0..<(48 * 44 * 3)).map { _ in UInt8(g.nextInt(below: 256)) }
            try Image(width: 48, height: 44, channels: 3, samples: samples)
                .write(to: root.appendingPathComponent("data/\(domain)/zz-larger.png"))
        }
        var o = helper.options(root, kind: .cycleGAN, name: "none", epochs: 2, maxSteps: 4)
        o.preprocessing = .none
        let first = try helper.quietTrainer(o).run()
        #expect(first.progress.globalStep == 4)
        o.maxSteps = 6
        #expect(try helper.quietTrainer(o).run().progress.globalStep == 6)
    }
}
