import ArgumentParser
import CyclexInference
import Foundation

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare translated images with their true counterparts (same file names): mean L1, PSNR and SSIM.",
        discussion: """
            For paired test data such as the emoji styles: cyclex score translated/ datasets/emoji/testB
            L1 and PSNR on 8-bit RGB; SSIM as Wang et al. 2004 (11x11 Gaussian window, sigma 1.5, K1 0.01,
            K2 0.03) on the [0, 1] scale, per channel, averaged over channels and images.
            """)

    @Argument(help: "Folder of translated images.")
    var translated: String

    @Argument(help: "Folder of the true images, with the same relative names.")
    var truth: String

    func run() throws {
        try reportingErrors {
            let score = try PairedScore.compute(translated: URL(fileURLWithPath: translated), truth: URL(fileURLWithPath: truth))
            for problem in score.problems { FileHandle.standardError.write(Data(("warning: \(problem)\n").utf8)) }
            guard score.pairs > 0 else { throw CLIError("no pairs to score: no file in \(translated) has a counterpart in \(truth)") }
            print(score.summary)
        }
    }
}
