import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexTestSupport
import Foundation
import Testing

/// `cyclex import` against the interop fixtures: PyTorch's own outputs for the files it saved.
@Suite struct PyTorchImportTests {
    static let folder = Fixture.projectRoot.appendingPathComponent("Tests/Fixtures/golden/interop")
    let reference: SafeTensorsFile
    let config: [String: Any]
    let atol: [String: Double]

    init() throws {
        reference = try SafeTensorsFile(contentsOf: Self.folder.appendingPathComponent("interop.safetensors"))
        let info = try JSONSerialization.jsonObject(with: Data(try #require(reference.metadata["fixture"]).utf8)) as? [String: Any]
        config = try #require(info?["config"] as? [String: Any])
        atol = try #require(info?["atol"] as? [String: Double])
    }

    var files: [String: Any] { config["files"] as? [String: Any] ?? [:] }
    func url(_ relative: String) -> URL { Self.folder.appendingPathComponent(relative) }

    /// Imports `sources`, writes the checkpoint, reads it back the way translate does.
    func importAndReload(_ sources: [URL]) throws -> (any GeneratorPair, PyTorchImport.Provenance, URL) {
        let (generators, provenance) = try PyTorchImport.recognise(sources)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-import-\(UUID().uuidString)/latest.safetensors")
        try PyTorchImport.write(generators, provenance: provenance, to: target)
        return (try GeneratorCheckpoint.load(target), provenance, target)
    }

    func expectMatches(_ output: Tensor, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try reference.floats(name)
        let tolerance = try #require(atol[name])
        #expect(output.shape == (try reference.entry(name).shape), sourceLocation: sourceLocation)
        let error = zip(output.scalars, expected).map { abs(Double($0) - Double($1)) }.max() ?? .infinity
        #expect(error <= tolerance, "\(name): max error \(error) > atol \(tolerance)", sourceLocation: sourceLocation)
    }

    @Test func resnetGeneratorTranslatesAsInPyTorch() throws {
        let (pair, provenance, _) = try importAndReload([url(try #require(files["resnet"] as? String))])
        let resnet = try #require(config["resnet"] as? [String: Int])
        #expect(pair.configuration.kind == .cycleGAN)
        #expect(pair.configuration.generatorFilters == resnet["ngf"] && pair.configuration.residualBlocks == resnet["n_blocks"])
        #expect(provenance.directions == [.aToB] && provenance.formats == ["zip"])
        try expectMatches(pair.translate(try reference.tensor("input"), direction: .aToB), "resnet.output")
    }

    @Test func modulePrefixedLegacyCopyGivesTheSameModel() throws {
        let (pair, provenance, _) = try importAndReload([url(try #require(files["resnet_module"] as? String))])
        #expect(provenance.formats == ["legacy"])
        try expectMatches(pair.translate(try reference.tensor("input"), direction: .aToB), "resnet.output")
    }

    @Test func oldInstanceNormStatisticsAreIgnoredAndNamed() throws {
        let (pair, provenance, _) = try importAndReload([url(try #require(files["resnet_old_instancenorm"] as? String))])
        #expect(!provenance.ignored.isEmpty && provenance.ignored.allSatisfy { $0.contains("running_") })
        try expectMatches(pair.translate(try reference.tensor("input"), direction: .aToB), "resnet.output")
    }

    @Test func pairImportsBothDirections() throws {
        let pairFiles = try #require(files["pair"] as? [String])
        #expect(PyTorchImport.partner(of: url(pairFiles[0])) == url(pairFiles[1]))
        let (pair, provenance, _) = try importAndReload(pairFiles.map(url))
        #expect(provenance.directions == [.aToB, .bToA])
        let input = try reference.tensor("input")
        try expectMatches(pair.translate(input, direction: .aToB), "pair.G_A.output")
        try expectMatches(pair.translate(input, direction: .bToA), "pair.G_B.output")
    }

    @Test func xaiGeneratorUnderItsRepositoryNamesMatches() throws {
        let (pair, provenance, _) = try importAndReload([url(try #require(files["xai"] as? String))])
        #expect(pair.configuration.kind == .xaiCycleGAN)
        #expect(provenance.renamed > 0)
        let generator = try #require((pair as? XAICycleGANGenerators)?.ab)
        let output = withoutGradient { generator(try! reference.tensor("input"), mask: try! reference.tensor("mask")) }
        try expectMatches(output, "xai.output")
    }

    @Test func singleDirectionImportRefusesTheOtherDirection() throws {
        let (_, _, checkpoint) = try importAndReload([url(try #require(files["resnet"] as? String))])
        _ = try GeneratorCheckpoint.load(checkpoint, for: .aToB)
        #expect(throws: CheckpointError.self) { try GeneratorCheckpoint.load(checkpoint, for: .bToA) }
    }

    @Test func unmappedAndMissingTensorsAreNamed() throws {
        let extra = try #require(files["extra_tensor"] as? [String])
        do {
            _ = try PyTorchImport.recognise([url(extra[0])])
            Issue.record("imported a file with an extra tensor")
        } catch let error as ImportError {
            guard case let .unmapped(_, _, tensors) = error else { Issue.record("wrong error \(error)"); return }
            #expect(tensors.count == 1 && tensors[0].hasPrefix(extra[1]))
        }
        let missing = try #require(files["missing_tensor"] as? [String])
        do {
            _ = try PyTorchImport.recognise([url(missing[0])])
            Issue.record("imported a file with a missing tensor")
        } catch let error as ImportError {
            guard case let .incomplete(_, _, problems) = error else { Issue.record("wrong error \(error)"); return }
            #expect(problems.count == 1 && problems[0].hasPrefix(missing[1]))
        }
    }

    @Test func pairOfDifferentArchitecturesIsRefused() throws {
        #expect(throws: ImportError.self) {
            try PyTorchImport.recognise([url(try #require(files["resnet"] as? String)), url(try #require(files["xai"] as? String))])
        }
    }
}
