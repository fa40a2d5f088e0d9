import CyclexEngine
import CyclexImaging
import CyclexTestSupport
import Foundation
import Testing

/// Real data from `../shared/datasets` and the project's own `datasets/` builds (skipped when absent).
@Suite("Real data sets")
struct RealDataTests {
    static let horse2zebraRoot = Fixture.datasetsRoot.appendingPathComponent("horse2zebra")
    static let emojiRoot = Fixture.projectRoot.appendingPathComponent("datasets/emoji")
    static let fashionRoot = Fixture.projectRoot.appendingPathComponent("datasets/fashion-mnist")
    static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }
    static var benchmarkRequested: Bool { ProcessInfo.processInfo.environment["CYCLEX_IMAGING_BENCH"] == "1" }

    @Test("horse2zebra: every JPEG decodes; 7 trainB images are gray", .enabled(if: exists(horse2zebraRoot), "../shared/datasets/horse2zebra not found"))
    func horse2zebra() throws {
        let dataset = try UnpairedDataset(root: Self.horse2zebraRoot)
        #expect(dataset.domainA.count == 1067 && dataset.domainB.count == 1334)
        var gray = 0
        for url in dataset.domainB.files {
            let image = try Image(contentsOf: url)
            #expect(image.width == 256 && image.height == 256)
            if image.channels == 1 { gray += 1 }
        }
        #expect(gray == 7)
    }

    @Test("emoji pairs built by datasets/build-emoji.sh load as a CycleGAN data set", .enabled(if: exists(emojiRoot), "datasets/emoji not built"))
    func emojiPairs() throws {
        let train = try UnpairedDataset(root: Self.emojiRoot), test = try UnpairedDataset(root: Self.emojiRoot, phase: "test")
        #expect(train.domainA.files.map(\.lastPathComponent) == train.domainB.files.map(\.lastPathComponent))
        #expect(test.domainA.count == test.domainB.count && test.domainA.count > 0)
        let image = try Image(contentsOf: train.domainA.files[0])
        #expect(image.size == ImageSize(square: 64) && image.channels == 3)
    }

    @Test("Fashion-MNIST linked by datasets/build-fashion-mnist.sh", .enabled(if: exists(fashionRoot.appendingPathComponent("train-images-idx3-ubyte.gz")), "datasets/fashion-mnist not linked"))
    func fashionMNIST() throws {
        let set = try LabeledImageSet.mnist(directory: Self.fashionRoot)
        #expect(set.count == 70_000 && set.height == 28)
        #expect(Set(set.labels) == Set(0...9))
    }

    /// Throughput, printed and never asserted (run with CYCLEX_IMAGING_BENCH=1 in a release build).
    @Test("decode throughput on horse2zebra", .enabled(if: exists(horse2zebraRoot) && benchmarkRequested, "set CYCLEX_IMAGING_BENCH=1 (release build)"))
    func throughput() throws {
        let dataset = try UnpairedDataset(root: Self.horse2zebraRoot)
        let files = dataset.domainA.files + dataset.domainB.files
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = try Image(contentsOf: files[0])  // warm the page cache for the first file
        let decode = try seconds { for url in files { _ = try Image(contentsOf: url) } }
        let options = Preprocessing(mode: .resizeAndCrop, size: 256)
        var generator = RandomGenerator(seed: 1)
        let pipeline = try seconds { for url in files { _ = try options.load(url, using: &generator) } }
        let plan = dataset.epochPlan(using: &generator)
        var batches = 0
        let loaderTime = seconds {
            let loader = UnpairedLoader(dataset: dataset, plan: plan, preprocessing: options, workers: 1)
            while loader.next() != nil { batches += 1 }
        }
        print(String(format: "horse2zebra decode: %d JPEGs in %.2f s = %.0f images/s (%.2f ms each)",
                     files.count, decode, Double(files.count) / decode, 1000 * decode / Double(files.count)))
        print(String(format: "decode + resize 286 bicubic + crop 256 + flip + [-1,1] CHW: %.0f images/s",
                     Double(files.count) / pipeline))
        print(String(format: "UnpairedLoader, 1 background worker: %d A/B pairs in %.2f s = %.0f pairs/s",
                     batches, loaderTime, Double(batches) / loaderTime))
        #expect(batches == plan.count)
    }
}
