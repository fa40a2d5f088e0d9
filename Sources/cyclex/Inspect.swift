import ArgumentParser
import CyclexEngine
import CyclexNN
import CyclexInference
import CyclexTraining
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a checkpoint: model, configuration, progress, parameter counts.")

    @Argument(help: "A .safetensors checkpoint, or a run folder (its latest.safetensors).")
    var checkpoint: String

    func run() throws {
        try reportingErrors {
            let url = resolveCheckpoint(checkpoint)
            let file = try CheckpointFormat.open(url)
            // A generator-only checkpoint (from `cyclex import`) has no training state to show.
            let networks: [(prefix: String, module: any Module)]
            let configuration: ModelConfiguration
            var progress: TrainingProgress?
            if Checkpoint.holdsTrainingState(file) {
                let loaded = try Checkpoint.load(url)
                (networks, configuration, progress) = (loaded.model.networks, loaded.model.configuration, loaded.progress)
            } else {
                let generators = try GeneratorCheckpoint.load(url)
                let available = GeneratorCheckpoint.directions(in: file)
                let present = generators.networks.enumerated().filter { available.contains($0.offset == 0 ? .aToB : .bToA) }
                (networks, configuration) = (present.map(\.element), generators.configuration)
            }
            let c = configuration
            print("checkpoint: \(url.path)")
            print("model: \(c.kind.rawValue)  (image size \(c.imageSize), stride \(c.stride))")
            print("configuration: \(c.jsonString())")
            if let p = progress {
                let done = p.epoch > p.totalEpochs
                print("progress: \(done ? "complete" : "epoch \(p.epoch) of \(p.totalEpochs)"), \(p.globalStep) steps")
                if let replicas = p.replicas {
                    print("data-parallel: trained with \(replicas) MPI ranks (resume with the same number; docs/distributed.md)")
                }
            } else {
                print("generators only (no training state)")
            }
            if let source = PyTorchImport.provenance(of: file) {
                print("imported from PyTorch: \(source.sources.joined(separator: " + ")) (\(source.formats.joined(separator: ", ")) format)")
                print("  recognised \(source.architecture); directions \(source.directions.map(\.rawValue).joined(separator: ", ")); "
                      + "\(source.renamed) tensors renamed; imported \(source.importedAt)")
                for line in source.ignored { print("  ignored \(line)") }
            }
            for (prefix, module) in networks {
                print("  \(prefix): \(module.parameterCount.formatted()) parameters")
            }
            print("total: \(networks.reduce(0) { $0 + $1.module.parameterCount }.formatted()) parameters")
        }
    }
}

/// A checkpoint file, or `<folder>/latest.safetensors` for a run folder.
func resolveCheckpoint(_ path: String) -> URL {
    var isDirectory: ObjCBool = false
    let url = URL(fileURLWithPath: path)
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        return url.appendingPathComponent("latest.safetensors")
    }
    return url
}
