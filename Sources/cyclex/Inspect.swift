import ArgumentParser
import CyclexEngine
import CyclexTraining
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a checkpoint: model, configuration, progress, parameter counts.")

    @Argument(help: "A .safetensors checkpoint, or a run folder (its latest.safetensors).")
    var checkpoint: String

    func run() throws {
        do {
            let url = resolveCheckpoint(checkpoint)
            let (model, progress) = try Checkpoint.load(url)
            let c = model.configuration
            print("checkpoint: \(url.path)")
            print("model: \(c.kind.rawValue)  (image size \(c.imageSize), stride \(c.stride))")
            print("configuration: \(c.jsonString())")
            if let p = progress {
                let done = p.epoch > p.totalEpochs
                print("progress: \(done ? "complete" : "epoch \(p.epoch) of \(p.totalEpochs)"), \(p.globalStep) steps")
            }
            for (prefix, module) in model.networks {
                print("  \(prefix): \(module.parameterCount.formatted()) parameters")
            }
            print("total: \(model.parameterCount.formatted()) parameters")
        } catch {
            throw CLIError(error.localizedDescription)
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
