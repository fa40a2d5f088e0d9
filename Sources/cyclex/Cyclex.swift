import ArgumentParser

struct Cyclex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cyclex",
        abstract: "Unpaired image-to-image translation: CycleGAN and xAI-CycleGAN on image folders.",
        version: CyclexVersion.string,
        subcommands: [Train.self, Translate.self, Inspect.self, Import.self, Evaluate.self, Score.self, Report.self, GAN.self])
}
