import CyclexEngine
import CyclexInterop
import CyclexNN
import Foundation

/// Why a PyTorch generator could not be imported; every case names the file.
public enum ImportError: LocalizedError, Equatable {
    case unrecognised(path: String, reason: String)
    /// Tensors of the file that have no place in the recognised network, each as "name (shape)".
    case unmapped(path: String, architecture: String, tensors: [String])
    /// Tensors the recognised network needs that the file lacks, or has with another shape.
    case incomplete(path: String, architecture: String, problems: [String])
    case mismatchedPair(first: String, second: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unrecognised(path, reason): return "\(path): not a generator cyclex can import: \(reason)"
        case let .unmapped(path, architecture, tensors):
            return "\(path): looks like \(architecture), but \(tensors.count) tensor(s) have no place in it:\n  "
                + tensors.joined(separator: "\n  ")
        case let .incomplete(path, architecture, problems):
            return "\(path): looks like \(architecture), but:\n  " + problems.joined(separator: "\n  ")
        case let .mismatchedPair(first, second, reason): return "\(first) and \(second) are not one model's two generators: \(reason)"
        }
    }
}

/// Reads PyTorch generator checkpoints (`torch.save` state dicts, zip or legacy format) and turns
/// them into a cyclex generator pair, recognising the architecture from tensor names and shapes:
///
/// - junyanz `ResnetGenerator` (pytorch-CycleGAN-and-pix2pix: `model.1.weight` … `model.<17+n>`),
///   any ngf, any number of residual blocks, optionally with DataParallel's `module.` prefix and
///   with the InstanceNorm running statistics very old PyTorch versions saved (ignored: the
///   network normalises with per-image statistics). With dropout in the blocks
///   (`conv_block.6`) the second conv is renamed from index 6 to 5; dropout is the identity at inference.
/// - the xAI-CycleGAN-2 REC generator under that repository's names (`conv1dc`, `conv1dm`,
///   `conv1.conv` … `final.conv`) or under cyclex's own (`mask_fusion.conv`, …).
///
/// One file gives one direction (A→B, or B→A for a `*_G_B.pth` file); two files (`…G_A.pth`,
/// `…G_B.pth`) give both. The network's expected names and shapes come from cyclex's own
/// generator classes, so anything the file holds beyond them, or lacks, is named tensor by tensor.
public enum PyTorchImport {
    /// What was imported, stored as JSON under `cyclex.import` in the checkpoint header.
    public struct Provenance: Codable, Equatable, Sendable {
        public var sources: [String]
        public var formats: [String]
        public var architecture: String
        public var directions: [TranslationDirection]
        /// Tensors renamed on the way ("conv1dc.weight -> mask_fusion.conv.weight"), per file.
        public var renamed: Int
        /// Tensors of the files deliberately left out, with the reason.
        public var ignored: [String]
        public var importedAt: String
    }

    public static let provenanceKey = "cyclex.import"

    /// Generators recognised in `files` (one or two), with their provenance. `imageSize` is the
    /// training resolution to record (256 for the official junyanz models).
    public static func recognise(_ files: [URL], imageSize: Int = 256) throws -> (generators: any GeneratorPair, provenance: Provenance) {
        precondition((1...2).contains(files.count))
        var parsed: [(url: URL, file: TorchFile, net: RecognisedNetwork)] = []
        for url in files {
            let file = try TorchFile(contentsOf: url)
            parsed.append((url, file, try recogniseNetwork(file)))
        }
        let directions: [TranslationDirection]
        if files.count == 2 {
            let (a, b) = (parsed[0].net, parsed[1].net)
            guard a.kind == b.kind, a.filters == b.filters, a.blocks == b.blocks, a.channels == b.channels else {
                throw ImportError.mismatchedPair(first: files[0].path, second: files[1].path,
                                                 reason: "\(a.description) vs \(b.description)")
            }
            directions = [.aToB, .bToA]
        } else {
            directions = [isBDirectionFile(files[0]) ? .bToA : .aToB]
        }
        let net = parsed[0].net
        var configuration = ModelConfiguration.preset(.standard, kind: net.kind, imageSize: imageSize)
        configuration.generatorFilters = net.filters
        configuration.residualBlocks = net.blocks
        configuration.channels = net.channels
        var g = RandomGenerator(seed: 0)
        let generators = makeGeneratorPair(configuration, using: &g)
        for ((_, _, recognised), direction) in zip(parsed, directions) {
            let module = generators.networks[direction == .aToB ? 0 : 1].module
            try module.load { name in recognised.tensors[name].map { Tensor(shape: $0.shape, scalars: $0.floats()) } }
        }
        let provenance = Provenance(
            sources: files.map(\.path), formats: parsed.map(\.file.format), architecture: net.description,
            directions: directions, renamed: parsed.reduce(0) { $0 + $1.net.renamed }, ignored: parsed.flatMap(\.net.ignored),
            importedAt: ISO8601DateFormatter().string(from: Date()))
        return (generators, provenance)
    }

    /// Writes a generator-only checkpoint holding the imported directions' generators, the
    /// configuration and the provenance (atomically).
    public static func write(_ generators: any GeneratorPair, provenance: Provenance, to url: URL) throws {
        var writer = CheckpointFormat.writer(for: generators.configuration)
        writer.metadata[provenanceKey] = String(decoding: try JSONEncoder().encode(provenance), as: UTF8.self)
        let present = generators.networks.enumerated().filter { provenance.directions.contains($0.offset == 0 ? .aToB : .bToA) }
        CheckpointFormat.add(present.map(\.element), to: &writer)
        try writer.write(to: url)
    }

    /// The provenance stored in a checkpoint, nil for checkpoints `cyclex train` wrote.
    public static func provenance(of file: SafeTensorsFile) -> Provenance? {
        file.metadata[provenanceKey].flatMap { try? JSONDecoder().decode(Provenance.self, from: Data($0.utf8)) }
    }

    static func isBDirectionFile(_ url: URL) -> Bool {
        let stem = url.deletingPathExtension().lastPathComponent
        return stem.hasSuffix("G_B") || stem.hasSuffix("G_BA")
    }

    /// The partner of `latest_net_G_A.pth` (`latest_net_G_B.pth` in the same folder) when it exists.
    public static func partner(of url: URL) -> URL? {
        let stem = url.deletingPathExtension().lastPathComponent
        guard stem.hasSuffix("G_A") else { return nil }
        let other = url.deletingLastPathComponent()
            .appendingPathComponent(String(stem.dropLast(3)) + "G_B").appendingPathExtension(url.pathExtension)
        return FileManager.default.fileExists(atPath: other.path) ? other : nil
    }

    // MARK: - Recognition

    struct RecognisedNetwork {
        var kind: ModelConfiguration.Kind
        var filters: Int, blocks: Int, channels: Int
        /// cyclex name → tensor.
        var tensors: [String: TorchTensor]
        var renamed: Int
        var ignored: [String]
        var description: String {
            kind == .cycleGAN ? "a junyanz ResnetGenerator (ngf \(filters), \(blocks) residual blocks)"
                : "an xAI-CycleGAN REC generator (ngf \(filters), \(blocks) residual blocks)"
        }
    }

    static func recogniseNetwork(_ file: TorchFile) throws -> RecognisedNetwork {
        var named = file.tensors
        guard !named.isEmpty else { throw ImportError.unrecognised(path: file.path, reason: "it holds no tensors") }
        if named.allSatisfy({ $0.name.hasPrefix("module.") }) {
            named = named.map { (String($0.name.dropFirst("module.".count)), $0.tensor) }
        }
        var byName: [String: TorchTensor] = [:]
        for (name, tensor) in named { byName[name] = tensor }

        if let stem = byName["model.1.weight"], stem.shape.count == 4 {
            return try resnet(file, byName, stem: stem)
        }
        if byName["conv1dc.weight"] != nil || byName["mask_fusion.conv.weight"] != nil {
            return try xai(file, byName)
        }
        let sample = named.prefix(5).map { "\($0.name) \($0.tensor.shape)" }.joined(separator: ", ")
        throw ImportError.unrecognised(
            path: file.path,
            reason: "expected a junyanz ResnetGenerator (model.1.weight, ...) or an xAI-CycleGAN REC generator (conv1dc.weight, ...); found \(named.count) tensors starting with \(sample)")
    }

    static func resnet(_ file: TorchFile, _ tensors: [String: TorchTensor], stem: TorchTensor) throws -> RecognisedNetwork {
        let (ngf, channels) = (stem.shape[0], stem.shape[1])
        var blocks = 0
        while tensors["model.\(10 + blocks).conv_block.1.weight"] != nil { blocks += 1 }
        var mapped: [String: TorchTensor] = [:], renamed = 0, ignored: [String] = [], unmapped: [String] = []
        for (name, tensor) in tensors {
            if name.hasSuffix(".running_mean") || name.hasSuffix(".running_var") || name.hasSuffix(".num_batches_tracked") {
                ignored.append("\(name) (InstanceNorm statistic saved by old PyTorch; unused)")
                continue
            }
            var target = name
            if name.contains(".conv_block.6.") {   // blocks built with dropout: pad, conv, norm, relu, dropout, pad, conv, norm
                target = name.replacingOccurrences(of: ".conv_block.6.", with: ".conv_block.5.")
                renamed += 1
            }
            mapped[target] = tensor
        }
        let network = RecognisedNetwork(kind: .cycleGAN, filters: ngf, blocks: blocks, channels: channels, tensors: mapped,
                                        renamed: renamed, ignored: ignored.sorted())
        try check(file, network, unmapped: &unmapped)
        return network
    }

    /// xAI-CycleGAN-2 module names → cyclex's.
    static func xaiName(_ name: String) -> String? {
        let fixed: [(String, String)] = [
            ("conv1dc.", "mask_fusion.conv."), ("conv1dm.", "context_fusion.conv."), ("conv1.conv.", "enc1.conv."),
            ("conv2.conv.", "enc2.conv."), ("conv3.conv.", "enc3.conv."), ("conv4.conv.", "enc4.conv."),
            ("deconv1.deconv.", "dec1.deconv."), ("deconv2.deconv.", "dec2.deconv."), ("deconv3.deconv.", "dec3.deconv."),
            ("deconv4.conv.", "head.conv."), ("final.conv.", "final.conv."),
        ]
        for (from, to) in fixed where name.hasPrefix(from) { return to + name.dropFirst(from.count) }
        // resnet_blocks.<i>.resnet_block.1 / .5 → res_blocks.<i>.conv1 / conv2
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 5, parts[0] == "resnet_blocks", Int(parts[1]) != nil, parts[2] == "resnet_block",
           let conv = ["1": "conv1", "5": "conv2"][String(parts[3])] {
            return "res_blocks.\(parts[1]).\(conv).\(parts[4])"
        }
        return nil
    }

    static func xai(_ file: TorchFile, _ tensors: [String: TorchTensor]) throws -> RecognisedNetwork {
        var mapped: [String: TorchTensor] = [:], renamed = 0, unmapped: [String] = []
        for (name, tensor) in tensors {
            if let target = xaiName(name) {
                mapped[target] = tensor
                if target != name { renamed += 1 }
            } else {
                mapped[name] = tensor   // already cyclex's name, or unmapped (reported by `check`)
            }
        }
        guard let enc1 = mapped["enc1.conv.weight"], enc1.shape.count == 4 else {
            throw ImportError.incomplete(path: file.path, architecture: "an xAI-CycleGAN REC generator",
                                         problems: ["no first encoder conv (conv1.conv.weight)"])
        }
        var blocks = 0
        while mapped["res_blocks.\(blocks).conv1.weight"] != nil { blocks += 1 }
        let network = RecognisedNetwork(kind: .xaiCycleGAN, filters: enc1.shape[0], blocks: blocks, channels: enc1.shape[1],
                                        tensors: mapped, renamed: renamed, ignored: [])
        try check(file, network, unmapped: &unmapped)
        return network
    }

    /// Compares the mapped tensors with the names and shapes of cyclex's own generator.
    static func check(_ file: TorchFile, _ network: RecognisedNetwork, unmapped: inout [String]) throws {
        var configuration = ModelConfiguration.preset(.standard, kind: network.kind, imageSize: 256)
        configuration.generatorFilters = network.filters
        configuration.residualBlocks = network.blocks
        configuration.channels = network.channels
        guard network.filters >= 1, network.channels >= 1, network.filters <= 4096, network.blocks <= 1024 else {
            throw ImportError.unrecognised(path: file.path, reason: "implausible sizes (ngf \(network.filters), \(network.channels) channels)")
        }
        var g = RandomGenerator(seed: 0)
        let expected = makeGeneratorPair(configuration, using: &g).networks[0].module.namedState
        let expectedNames = Set(expected.map(\.name))
        unmapped = network.tensors.keys.filter { !expectedNames.contains($0) }.sorted()
            .map { "\($0) \(network.tensors[$0]!.shape)" }
        guard unmapped.isEmpty else {
            throw ImportError.unmapped(path: file.path, architecture: network.description, tensors: unmapped)
        }
        var problems: [String] = []
        for (name, tensor) in expected {
            guard let found = network.tensors[name] else { problems.append("\(name) \(tensor.shape) is missing"); continue }
            if found.shape != tensor.shape { problems.append("\(name) has shape \(found.shape), expected \(tensor.shape)") }
        }
        guard problems.isEmpty else { throw ImportError.incomplete(path: file.path, architecture: network.description, problems: problems) }
    }
}
