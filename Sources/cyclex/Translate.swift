import ArgumentParser
import CyclexImaging
import CyclexInference
import CyclexTraining
import Foundation

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate an image or a folder with a trained checkpoint.",
        discussion: """
            cyclex translate in.jpg out.png    one file; the extension picks the format
            cyclex translate photos/ out/      a folder, recursively; names, formats
                                               and sub-folders kept

            Images keep their width and height and are translated at their own size
            (padded to the network's stride, cropped back); --scale training first
            resizes each image so its shorter side is the size the model was
            trained at, and resizes the result back. Images larger than --tile are translated in
            overlapping tiles with blended seams. Existing outputs are never replaced
            without --overwrite (folder mode skips them), and an output that is the
            input (or a folder inside the input folder) is refused. In folder mode
            unreadable files are reported by name and skipped, and the exit status
            is 1 if any file failed. --shard K/N
            translates only the K-th of N disjoint slices (e.g. a Slurm array task).
            See docs/translate.md.
            """)

    @Argument(help: "An image file (PNG/JPEG) or a folder of images.")
    var input: String

    @Argument(help: "Output image file, or a folder (created if needed).")
    var output: String

    @Option(help: "A checkpoint file or run folder (default: the most recently updated checkpoints/*/latest.safetensors).")
    var checkpoint: String?

    @Option(help: "a2b (generator G_A) or b2a (G_B).")
    var direction: TranslationDirection = .aToB

    @Option(help: "Resize inputs first: N (square) or WxH. Default: keep every image's own size.")
    var size: String?

    @Option(help: "native: translate each image at its own size; training: resize it so its shorter side is the checkpoint's training size, translate, resize back. Ignored with --size.")
    var scale: TranslationScale = .default

    @Option(help: "Tile side in pixels for large images (0 = never tile).")
    var tile = 512

    @Option(help: "Minimum overlap of neighbouring tiles in pixels.")
    var tileOverlap = 32

    @Option(help: "Folder mode: write every output as png or jpg (default: each input's format).")
    var format: OutputFormatChoice?

    @Option(help: "JPEG quality (1-100).")
    var jpegQuality = 95

    @Flag(help: "Replace existing outputs (folder mode: instead of skipping them; single file: instead of refusing).")
    var overwrite = false

    @Flag(help: "Write the input and its translation next to each other.")
    var sideBySide = false

    @Option(help: "Convolution arithmetic: f32, or bf16 (about twice as fast on CPUs with AVX512_BF16, outputs within 2 grey levels of f32).")
    var precision: InferencePrecision = .f32

    @Option(help: "Folder mode: translate only slice K of N (1 <= K <= N), chosen by a hash of each file's path.")
    var shard: String?

    func validate() throws {
        let maxSide = FlagBounds.maxTranslateSide
        try UsageError.require(tile == 0 || (16...maxSide).contains(tile), "--tile \(tile): must be 0 (never tile) or 16 to \(maxSide)")
        try UsageError.require(tileOverlap >= 0 && (tile == 0 || tileOverlap < tile / 2),
                               "--tile-overlap \(tileOverlap): must be 0 or more and less than half of --tile (\(tile))")
        try UsageError.require((1...100).contains(jpegQuality), "--jpeg-quality \(jpegQuality): must be 1 to 100")
        if let size {
            let parsed = parseSize(size)
            try UsageError.require(parsed != nil, "--size '\(size)': must be N or WxH with sides 1 to \(maxSide), e.g. 256 or 320x240")
            let pixels = UInt64(parsed!.width) * UInt64(parsed!.height), limit = ImageLimits.current.maxPixels
            try UsageError.require(pixels <= limit,
                                   "--size '\(size)': \(pixels) pixels, over the image limit of \(limit) (CYCLEX_MAX_IMAGE_PIXELS)")
        }
        if let shard {
            try UsageError.require(Shard(parsing: shard) != nil,
                                   "--shard '\(shard)': must be K/N with 1 <= K <= N (e.g. $SLURM_ARRAY_TASK_ID/8 with --array=1-8)")
        }
    }

    func run() throws {
        // Before any checkpoint is read: a CPU without AVX512_BF16 is refused at once.
        try reportingErrors { try precision.checkAvailable() }
        var options = TranslationOutputOptions()
        options.size = size.flatMap(parseSize)
        options.format = format
        options.jpegQuality = jpegQuality
        options.sideBySide = sideBySide
        options.overwrite = overwrite
        options.shard = shard.flatMap(Shard.init(parsing:))

        let inputURL = URL(fileURLWithPath: input)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else {
            throw CLIError("\(input): no such file or folder")
        }
        let progress = ProgressDisplay(plainEvery: 100)

        let checkpointURL = try checkpoint.map(resolveCheckpoint) ?? latestCheckpoint(progress)
        // Only the generators: no discriminators, optimiser moments, pools or random streams.
        let generators = try reportingErrors { try GeneratorCheckpoint.load(checkpointURL, for: direction) }
        let c = generators.configuration
        let translator = try reportingErrors {
            try Translator(generators: generators, direction: direction, precision: precision, tileSize: tile,
                           tileOverlap: tileOverlap)
        }
        progress.message("checkpoint \(checkpointURL.path): \(c.kind.rawValue), trained at \(c.imageSize)px, "
            + "stride \(c.stride), direction \(direction.rawValue), precision \(precision.rawValue)")
        if let size = options.size {
            progress.message("scale: every image resized to \(size) (--size), translated at that size")
        } else {
            options.scale = scale
            options.trainingSize = c.imageSize
            progress.message(scale.describe(trainingSize: c.imageSize))
        }

        if !isFolder.boolValue {
            if options.shard != nil { throw CLIError("--shard needs a folder input") }
            var target = URL(fileURLWithPath: output)
            var outputIsFolder: ObjCBool = false
            if output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &outputIsFolder)
                && outputIsFolder.boolValue) {
                target = target.appendingPathComponent(inputURL.lastPathComponent)
                if let format { target = target.deletingPathExtension().appendingPathExtension(format.rawValue) }
            }
            try reportingErrors { try OutputSafety.checkFile(input: inputURL, output: target, overwrite: overwrite) }
            let start = Date()
            try reportingErrors {
                try BatchTranslation.translateFile(input: inputURL, output: target, translator: translator, options: options)
            }
            print("\(target.path) (\(String(format: "%.2f", Date().timeIntervalSince(start))) s)")
            return
        }

        if ImageFileFormat(pathExtension: URL(fileURLWithPath: output).pathExtension) != nil,
            !FileManager.default.fileExists(atPath: output) {
            throw CLIError("\(output): the input is a folder, so the output must be a folder too")
        }
        let items = try reportingErrors {
            try OutputSafety.checkFolder(input: inputURL, output: URL(fileURLWithPath: output))
            return try BatchTranslation.plan(input: inputURL, output: URL(fileURLWithPath: output), options: options)
        }
        progress.message("\(items.count) image(s)" + (options.shard.map { " in shard \($0)" } ?? "") + " → \(output)")

        installInterruptHandler(finishing: "the current image")
        let start = Date()
        var lastShown = -1
        func line(_ s: BatchSummary) -> String {
            let processed = s.done + s.skipped + s.failed
            let fraction = s.total > 0 ? Double(processed) / Double(s.total) : 1
            let elapsed = Date().timeIntervalSince(start)
            let rate = s.done > 0 ? Double(s.done) / elapsed : 0
            let eta = rate > 0 ? Double(s.total - processed) / rate : .nan
            return "translate \(ProgressDisplay.bar(fraction)) \(processed)/\(s.total)  "
                + String(format: "%.2f img/s", rate) + "  eta \(ProgressDisplay.duration(eta))  "
                + "(done \(s.done), skipped \(s.skipped), failed \(s.failed))"
        }
        let summary = BatchTranslation.run(
            items, translator: translator, options: options,
            shouldStop: { Interruption.requested.load(ordering: .relaxed) },
            onProgress: { s in
                let processed = s.done + s.skipped + s.failed
                guard processed != lastShown else { return }
                lastShown = processed
                progress.update(line(s), step: processed, force: processed == s.total)
            },
            onFailure: { path, message in
                progress.message("failed: " + (message.hasPrefix(path) ? message : "\(path): \(message)"))
            })
        if progress.isTerminal { progress.message(line(summary)) }
        if summary.removedTemporaries > 0 {
            print("removed \(summary.removedTemporaries) temporary file(s) left by an interrupted run")
        }
        let rate = String(format: "%.2f", summary.imagesPerSecond)
        print("done \(summary.done), skipped \(summary.skipped), failed \(summary.failed) of \(summary.total)"
            + " in \(ProgressDisplay.duration(summary.seconds)) (\(rate) images/s)"
            + (summary.interrupted ? " — interrupted, run again to continue" : ""))
        if summary.interrupted { throw ExitCode(128 + max(Interruption.signal.load(ordering: .relaxed), SIGINT)) }
        if summary.failed > 0 { throw ExitCode(1) }
    }

    /// The most recently modified `checkpoints/*/latest.safetensors`.
    func latestCheckpoint(_ progress: ProgressDisplay) throws -> URL {
        let root = URL(fileURLWithPath: "checkpoints")
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        var best: (url: URL, date: Date)?
        var found = 0  // runs with a checkpoint; a folder without one is not a run
        for run in runs where !run.hasPrefix(".") {
            let url = root.appendingPathComponent(run).appendingPathComponent("latest.safetensors")
            guard let date = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
            else { continue }
            found += 1
            if best == nil || date > best!.date { best = (url, date) }
        }
        guard let best else {
            throw CLIError("no checkpoint given and none found under ./checkpoints/*/latest.safetensors; use --checkpoint PATH")
        }
        progress.message("using the most recent checkpoint: \(best.url.path) (\(found > 1 ? "newest of \(found) runs" : "only run"))")
        return best.url
    }
}

/// "256" → 256x256, "320x240" → width 320, height 240.
func parseSize(_ text: String) -> ImageSize? {
    let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
    let numbers = parts.compactMap { Int($0) }
    guard numbers.count == parts.count, numbers.allSatisfy({ $0 > 0 && $0 <= FlagBounds.maxTranslateSide }) else { return nil }
    switch numbers.count {
    case 1: return ImageSize(square: numbers[0])
    case 2: return ImageSize(width: numbers[0], height: numbers[1])
    default: return nil
    }
}

extension TranslationDirection: ExpressibleByArgument {}
extension InferencePrecision: ExpressibleByArgument {}
extension TranslationScale: ExpressibleByArgument {}
extension OutputFormatChoice: ExpressibleByArgument {}
