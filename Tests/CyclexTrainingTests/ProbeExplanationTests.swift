import CyclexEngine
import CyclexImaging
import CyclexInference
@testable import CyclexTraining
import Foundation
import Testing

/// The xai-cyclegan probe sheets: they show the explanation machinery without changing training.
struct ProbeExplanationTests {
    static func batch(_ seed: UInt64, _ n: Int = 2) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor(randomNormal: [n, 3, 32, 32], mean: 0, standardDeviation: 0.5, using: &g)
    }

    static func state(_ model: any ModelRecipe) -> [Float] {
        model.networks.flatMap { $0.module.namedState.flatMap(\.tensor.scalars) }
    }

    @Test func sheetsDoNotChangeTraining() throws {
        let configuration = ModelConfiguration.preset(.tiny, kind: .xaiCycleGAN, imageSize: 32)
        let (a, b) = (Self.batch(1), Self.batch(2))
        let plain = makeModel(configuration, seed: 4), watched = makeModel(configuration, seed: 4)
        _ = try plain.trainStep(realA: a, realB: b)
        _ = try watched.trainStep(realA: a, realB: b)
        let (rows, images) = (watched as! any ProbeExplaining).probeExplanations(probesA: Self.batch(3), probesB: Self.batch(5))
        _ = try plain.trainStep(realA: b, realB: a)
        _ = try watched.trainStep(realA: b, realB: a)
        #expect(Self.state(plain) == Self.state(watched))

        #expect(rows == [["real_A", "fake_B", "saliency_D_B", "E_B", "M_A_aug"], ["real_B", "fake_A", "saliency_D_A", "E_A", "M_B_aug"]])
        for name in rows.joined() { #expect(images[name]?.shape == [2, 3, 32, 32], "\(name)") }
        // Colour-coded maps stay in [−1, 1]; the saliency reaches full scale (its largest magnitude is 1).
        let saliency = images["saliency_D_B"]!.scalars
        #expect(saliency.allSatisfy { $0 >= -1 && $0 <= 1 } && saliency.contains { $0 == -1 })
    }

    @Test func divergingColours() {
        let t = XAICycleGANModel.diverging([[2, -1, 0, 0.5]], height: 2, width: 2, scale: 2)
        // value/scale 1 → red (1, −1, −1); −0.5 → light blue; 0 → white; 0.25 → light red.
        #expect(t.shape == [1, 3, 2, 2])
        #expect(t.scalars == [1, 0, 1, 1,  -1, 0, 1, 0.5,  -1, 1, 1, 0.5])
    }

    @Test func trainerWritesSheetsAndTheReportShowsThem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-explain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var g = RandomGenerator(seed: 9)
        for folder in ["trainA", "trainB"] {
            let url = root.appendingPathComponent("data/\(folder)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for i in 0..<2 {
                try Image(width: 32, height: 32, channels: 3, samples: (0..<(32 * 32 * 3)).map { _ in UInt8(g.nextInt(below: 256)) })
                    .write(to: url.appendingPathComponent("\(i).png"))
            }
        }
        var o = TrainingOptions(dataRoot: root.appendingPathComponent("data").path)
        o.model = .xaiCycleGAN; o.preset = .tiny; o.size = 32; o.epochs = 1; o.name = "x"; o.sampleEvery = 1
        o.output = root.appendingPathComponent("runs").path
        let trainer = Trainer(options: o)
        trainer.note = { _ in }
        let summary = try trainer.run()
        let folder = try RunFolder(summary.runDirectory)
        #expect(folder.explanations.count == folder.samples.count && folder.samples.count == 3)  // steps 1, 2, epoch end
        let sheet = try Image(contentsOf: folder.explanations[0].url)
        #expect(sheet.width == 5 * 32 + 4 * 2 && sheet.height == 4 * 32 + 3 * 2)  // 5 columns, 2 + 2 probe rows
        let page = try TrainingReport(runs: [folder]).html()
        #expect(page.contains("What the explanations see: x"))
    }
}
