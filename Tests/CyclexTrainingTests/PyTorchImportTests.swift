import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexTestSupport
import Foundation
import Testing

/// `cyclex import` against the interop fixtures: PyTorch's own outputs for the files it saved.
@Suite struct PyTorchImportTests {
    /// The interop files of the fixture set in use (`Tests/Fixtures/golden` or `$CYCLEX_FIXTURES`).
    static let folder = Fixture.root.appendingPathComponent("interop")
    let reference: Fixture

    init() throws { reference = try Fixture.load("interop/interop") }

    /// A file name (or list of names) the fixture's `config.files` gives for `key`.
    func file(_ key: String) throws -> String { try reference.config["files"][key].string() }
    func files(_ key: String) throws -> [String] { try reference.config["files"][key].strings() }
    func url(_ relative: String) -> URL { Self.folder.appendingPathComponent(relative) }

    /// Imports `sources`, writes the checkpoint, reads it back the way translate does.
    func importAndReload(_ sources: [URL]) throws -> (any GeneratorPair, PyTorchImport.Provenance, URL) {
        let (generators, provenance) = try PyTorchImport.recognise(sources)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-import-\(UUID().uuidString)/latest.safetensors")
        try PyTorchImport.write(generators, provenance: provenance, to: target)
        return (try GeneratorCheckpoint.load(target), provenance, target)
    }

    @Test func resnetGeneratorTranslatesAsInPyTorch() throws {
        let (pair, provenance, _) = try importAndReload([url(try file("resnet"))])
        let resnet = reference.config["resnet"]
        #expect(pair.configuration.kind == .cycleGAN)
        #expect(try pair.configuration.generatorFilters == resnet["ngf"].int()
                && pair.configuration.residualBlocks == resnet["n_blocks"].int())
        #expect(provenance.directions == [.aToB] && provenance.formats == ["zip"])
        try reference.expectMatch(pair.translate(try reference.tensor("input"), direction: .aToB), "resnet.output")
    }

    @Test func modulePrefixedLegacyCopyGivesTheSameModel() throws {
        let (pair, provenance, _) = try importAndReload([url(try file("resnet_module"))])
        #expect(provenance.formats == ["legacy"])
        try reference.expectMatch(pair.translate(try reference.tensor("input"), direction: .aToB), "resnet.output")
    }

    @Test func oldInstanceNormStatisticsAreIgnoredAndNamed() throws {
        let (pair, provenance, _) = try importAndReload([url(try file("resnet_old_instancenorm"))])
        #expect(!provenance.ignored.isEmpty && provenance.ignored.allSatisfy { $0.contains("running_") })
        try reference.expectMatch(pair.translate(try reference.tensor("input"), direction: .aToB), "resnet.output")
    }

    @Test func pairImportsBothDirections() throws {
        let pairFiles = try files("pair")
        #expect(PyTorchImport.partner(of: url(pairFiles[0])) == url(pairFiles[1]))
        let (pair, provenance, _) = try importAndReload(pairFiles.map(url))
        #expect(provenance.directions == [.aToB, .bToA])
        let input = try reference.tensor("input")
        try reference.expectMatch(pair.translate(input, direction: .aToB), "pair.G_A.output")
        try reference.expectMatch(pair.translate(input, direction: .bToA), "pair.G_B.output")
    }

    @Test func xaiGeneratorUnderItsRepositoryNamesMatches() throws {
        let (pair, provenance, _) = try importAndReload([url(try file("xai"))])
        #expect(pair.configuration.kind == .xaiCycleGAN)
        #expect(provenance.renamed > 0)
        let generator = try #require((pair as? XAICycleGANGenerators)?.ab)
        let output = withoutGradient { generator(try! reference.tensor("input"), mask: try! reference.tensor("mask")) }
        try reference.expectMatch(output, "xai.output")
    }

    @Test func singleDirectionImportRefusesTheOtherDirection() throws {
        let (_, _, checkpoint) = try importAndReload([url(try file("resnet"))])
        _ = try GeneratorCheckpoint.load(checkpoint, for: .aToB)
        #expect(throws: CheckpointError.self) { try GeneratorCheckpoint.load(checkpoint, for: .bToA) }
    }

    @Test func unmappedAndMissingTensorsAreNamed() throws {
        let extra = try files("extra_tensor")
        do {
            _ = try PyTorchImport.recognise([url(extra[0])])
            Issue.record("imported a file with an extra tensor")
        } catch let error as ImportError {
            guard case let .unmapped(_, _, tensors) = error else { Issue.record("wrong error \(error)"); return }
            #expect(tensors.count == 1 && tensors[0].hasPrefix(extra[1]))
        }
        let missing = try files("missing_tensor")
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
            try PyTorchImport.recognise([url(try file("resnet")), url(try file("xai"))])
        }
    }
}
