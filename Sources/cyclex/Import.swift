import ArgumentParser
import CyclexInference
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import PyTorch generators (pytorch-CycleGAN-and-pix2pix, xAI-CycleGAN-2) as a cyclex model.",
        discussion: """
            Reads torch.save files without PyTorch (nothing in them is executed) and recognises the network from its \
            tensor names and shapes: the junyanz ResnetGenerator (any ngf and block count, with or without DataParallel's \
            'module.' prefix) or the xAI-CycleGAN REC generator. One file is one direction (A→B; B→A for a *_G_B.pth \
            file); give two files, or a latest_net_G_A.pth whose latest_net_G_B.pth lies beside it, for both. \
            Writes checkpoints/NAME/latest.safetensors, which translate, evaluate and inspect use like a trained run.
            """)

    @Argument(help: "One or two .pth files (A→B generator first).")
    var files: [String]

    @Option(help: "Run name (default: the file's name, or its folder's for latest_net_G_*.pth).")
    var name: String?

    @Option(help: "Folder that holds the runs.")
    var output = "checkpoints"

    @Option(help: "Resolution the model was trained at, recorded for translate (the official junyanz models: 256).")
    var imageSize = 256

    @Flag(help: "Replace an existing checkpoint of that name.")
    var overwrite = false

    func run() throws {
        guard (1...2).contains(files.count) else { throw CLIError("import takes one or two .pth files, got \(files.count)") }
        var urls = files.map { URL(fileURLWithPath: $0) }
        for url in urls where !FileManager.default.fileExists(atPath: url.path) { throw CLIError("\(url.path): no such file") }
        if urls.count == 1, let partner = PyTorchImport.partner(of: urls[0]) {
            print("pairing with \(partner.path) (the B→A generator)")
            urls.append(partner)
        }
        guard imageSize >= 8 else { throw CLIError("--image-size \(imageSize): must be at least 8") }
        let runName = name ?? defaultName(urls[0])
        guard !runName.isEmpty, !runName.contains("/"), runName != ".", runName != ".." else {
            throw CLIError("--name '\(runName)': a run name is one folder name")
        }
        let target = URL(fileURLWithPath: output).appendingPathComponent(runName).appendingPathComponent("latest.safetensors")
        if FileManager.default.fileExists(atPath: target.path) && !overwrite {
            throw CLIError("\(target.path) exists; choose another --name or pass --overwrite")
        }
        try reportingErrors {
            let (generators, provenance) = try PyTorchImport.recognise(urls, imageSize: imageSize)
            try PyTorchImport.write(generators, provenance: provenance, to: target)
            print("recognised \(provenance.architecture), directions \(provenance.directions.map(\.rawValue).joined(separator: ", "))")
            if provenance.renamed > 0 { print("renamed \(provenance.renamed) tensors to cyclex's names") }
            for line in provenance.ignored { print("ignored \(line)") }
            print("wrote \(target.path)")
            let direction = provenance.directions.contains(.aToB) ? "" : " --direction b2a"
            print("translate with: cyclex translate IN.jpg OUT.png --checkpoint \(target.deletingLastPathComponent().path)\(direction)")
        }
    }

    /// `horse2zebra.pth` → horse2zebra; `…/horse2zebra/latest_net_G_A.pth` → horse2zebra.
    func defaultName(_ url: URL) -> String {
        let stem = url.deletingPathExtension().lastPathComponent
        if stem.contains("_net_G") {
            let folder = url.deletingLastPathComponent().standardizedFileURL.lastPathComponent
            if !folder.isEmpty && folder != "/" && folder != "." { return folder }
        }
        return stem
    }
}
