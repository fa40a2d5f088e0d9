import CyclexInterop
import CyclexTestSupport
import Foundation
import Testing

/// The interop files of the fixture set in use (`Tests/Fixtures/golden` or `$CYCLEX_FIXTURES`; written by
/// Tests/Fixtures/generator/sections/interop.py).
let interopFolder = Fixture.root.appendingPathComponent("interop")

@Suite struct TorchFileReadingTests {
    @Test func zipStateDictAndLegacyModulePrefixedCopyAgree() throws {
        let zipped = try TorchFile(contentsOf: interopFolder.appendingPathComponent("resnet_generator.pth"))
        let legacy = try TorchFile(contentsOf: interopFolder.appendingPathComponent("resnet_generator_module.pth"))
        #expect(zipped.format == "zip")
        #expect(legacy.format == "legacy")
        #expect(zipped.tensors.count == legacy.tensors.count)
        #expect(zipped.tensors.first?.name == "model.1.weight")
        #expect(zipped.tensors.first?.tensor.shape.count == 4)
        for ((name, a), (prefixedName, b)) in zip(zipped.tensors, legacy.tensors) {
            #expect(prefixedName == "module." + name)
            #expect(a.shape == b.shape)
            #expect(a.floats() == b.floats(), "\(name)")
        }
    }

    @Test func deflatedArchiveReadsLikeTheStoredOne() throws {
        let stored = try TorchFile(contentsOf: interopFolder.appendingPathComponent("resnet_generator.pth"))
        let deflated = try TorchFile(contentsOf: interopFolder.appendingPathComponent("resnet_generator_deflated.pth"))
        #expect(stored.tensors.map(\.name) == deflated.tensors.map(\.name))
        for ((_, a), (_, b)) in zip(stored.tensors, deflated.tensors) { #expect(a.floats() == b.floats()) }
    }

    @Test func stridedViewsAreGatheredInRowMajorOrder() throws {
        // A 2x3 view with strides (1, 2) of a 6-element storage starting at 0: the transpose of [[0,1],[2,3],[4,5]].
        let pickle = Crafted.stateDict(count: 6, shape: [2, 3], stride: [1, 2])
        let file = try TorchFile(data: Crafted.torchZip(pickle: pickle, storages: [("0", Crafted.floats([0, 1, 2, 3, 4, 5]))]), path: "t.pth")
        let t = try #require(file.tensor("w"))
        #expect(t.shape == [2, 3])
        #expect(t.floats() == [0, 2, 4, 1, 3, 5])
    }

    @Test func offsetViewInsideTheStorageIsRead() throws {
        let pickle = Crafted.stateDict(count: 6, offset: 2, shape: [4], stride: [1])
        let file = try TorchFile(data: Crafted.torchZip(pickle: pickle, storages: [("0", Crafted.floats([0, 1, 2, 3, 4, 5]))]), path: "t.pth")
        #expect(file.tensor("w")?.floats() == [2, 3, 4, 5])
    }
}

@Suite struct CraftedPickleRefusalTests {
    func read(_ pickle: [UInt8], storages: [(String, Data)] = [], limits: PickleMachine.Limits = .init()) throws {
        _ = try TorchFile(data: Crafted.torchZip(pickle: pickle, storages: storages), path: "crafted.pth", limits: limits)
    }

    func expectError(_ pickle: [UInt8], storages: [(String, Data)] = [], limits: PickleMachine.Limits = .init(),
                     _ matches: (TorchFileError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try read(pickle, storages: storages, limits: limits)
            Issue.record("accepted a crafted pickle", sourceLocation: sourceLocation)
        } catch let error as TorchFileError {
            #expect(matches(error), "wrong refusal: \(error.localizedDescription)", sourceLocation: sourceLocation)
            #expect(error.localizedDescription.contains("crafted.pth"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func unknownOpcodeIsRefused() {
        expectError(Crafted.proto2 + [0xFF, 0x2E]) {
            if case .unsupportedOpcode(_, 0xFF, _, 2) = $0 { return true } else { return false }
        }
    }

    @Test func codeRunningOpcodesAreRefusedByName() {
        // INST (i), OBJ (o), NEWOBJ_EX, EXT1: ways to call arbitrary classes.
        for (bytes, name) in [([0x28, 0x69] + Array("os\nsystem\n".utf8), "INST"), ([0x28, 0x6F], "OBJ"),
                              ([0x92], "NEWOBJ_EX"), ([0x82, 0x01], "EXT1")] as [([UInt8], String)] {
            expectError(Crafted.proto2 + bytes + [0x2E]) {
                if case let .unsupportedOpcode(_, _, n, _) = $0 { return n == name } else { return false }
            }
        }
    }

    @Test func globalsOutsideTheAllowListAreRefused() {
        for (module, name) in [("os", "system"), ("builtins", "eval"), ("torch", "load"), ("subprocess", "Popen"),
                               ("__torch__.evil", "Module"), ("collections", "defaultdict"), ("torch._utils", "_rebuild_qtensor")] {
            expectError(Crafted.proto2 + Crafted.global(module, name) + [0x29, 0x52, 0x2E]) {
                if case let .disallowedGlobal(_, m, n) = $0 { return m == module && n == name } else { return false }
            }
        }
    }

    @Test func stackGlobalIsCheckedToo() {
        expectError(Crafted.proto2 + Crafted.string("os") + Crafted.string("system") + [0x93, 0x2E]) {
            if case .disallowedGlobal(_, "os", "system") = $0 { return true } else { return false }
        }
    }

    @Test func hugeStringLengthIsRefusedBeforeAllocating() {
        expectError(Crafted.proto2 + [0x58, 0xF0, 0xFF, 0xFF, 0xFF, 0x41, 0x2E]) {
            if case .malformedPickle = $0 { return true } else { return false }
        }
    }

    @Test func hugeTensorShapeIsRefused() {
        expectError(Crafted.stateDict(count: 4, shape: [1 << 20, 1 << 20, 1 << 20], stride: [0, 0, 0]),
                    storages: [("0", Crafted.floats([0, 0, 0, 0]))]) {
            if case .limitExceeded = $0 { return true } else { return false }
        }
    }

    @Test func expandedViewLargerThanItsStorageIsRefused() {
        // 4 stored elements viewed as 1000 x 1000 with stride 0: a 4-million-float demand from 16 bytes.
        expectError(Crafted.stateDict(count: 4, shape: [1000, 1000], stride: [0, 0]), storages: [("0", Crafted.floats([0, 0, 0, 0]))]) {
            if case .limitExceeded = $0 { return true } else { return false }
        }
    }

    @Test func deflatedEntryClaimingAHugeSizeIsRefusedBeforeAllocating() {
        let zip = Crafted.zip([("archive/data.pkl", Data([0x80, 0x02, 0x4E, 0x2E]))], deflatedClaim: 0xFFFF_FFF0)
        #expect {
            try TorchFile(data: zip, path: "bomb.pth")
        } throws: { error in
            if case .limitExceeded? = error as? TorchFileError { return true } else { return false }
        }
    }

    @Test func tensorReachingPastItsStorageIsRefused() {
        expectError(Crafted.stateDict(count: 4, offset: 1, shape: [2, 2], stride: [2, 1]), storages: [("0", Crafted.floats([0, 0, 0, 0]))]) {
            if case .invalidTensor = $0 { return true } else { return false }
        }
        expectError(Crafted.stateDict(count: 4, offset: -1, shape: [2], stride: [1]), storages: [("0", Crafted.floats([0, 0, 0, 0]))]) {
            if case .invalidTensor = $0 { return true } else { return false }
        }
    }

    @Test func missingStorageIsNamed() {
        expectError(Crafted.stateDict(key: "7", count: 4, shape: [4], stride: [1]), storages: [("0", Crafted.floats([0, 0, 0, 0]))]) {
            if case .missingStorage(_, "7") = $0 { return true } else { return false }
        }
        // A key that tries to leave the data folder.
        expectError(Crafted.stateDict(key: "../data.pkl", count: 4, shape: [4], stride: [1])) {
            if case .missingStorage = $0 { return true } else { return false }
        }
    }

    @Test func storageSizeDifferentFromItsEntryIsRefused() {
        expectError(Crafted.stateDict(count: 1000, shape: [4], stride: [1]), storages: [("0", Crafted.floats([0, 0, 0, 0]))]) {
            if case .invalidTensor = $0 { return true } else { return false }
        }
    }

    @Test func unknownStorageTypeIsRefused() {
        expectError(Crafted.stateDict(storageClass: "QInt8Storage", count: 4, shape: [4], stride: [1])) {
            if case .disallowedGlobal(_, "torch", "QInt8Storage") = $0 { return true } else { return false }
        }
    }

    @Test func stackAndMemoAreBounded() {
        var limits = PickleMachine.Limits()
        limits.stackDepth = 10
        expectError(Crafted.proto2 + [UInt8](repeating: 0x4E, count: 11) + [0x2E], limits: limits) {
            if case .limitExceeded = $0 { return true } else { return false }
        }
        limits = .init()
        limits.memoEntries = 3
        expectError(Crafted.proto2 + [0x4E] + (0..<4).flatMap { [0x71, UInt8($0)] } + [0x2E], limits: limits) {
            if case .limitExceeded = $0 { return true } else { return false }
        }
    }

    @Test func oversizedLongIsRefused() {
        expectError(Crafted.proto2 + [0x8A, 0x09] + [UInt8](repeating: 1, count: 9) + [0x2E]) {
            if case .limitExceeded = $0 { return true } else { return false }
        }
    }

    @Test func truncatedAndUnbalancedPicklesAreMalformed() {
        for bytes in [Crafted.proto2 + [0x4E], Crafted.proto2 + [0x52, 0x2E], Crafted.proto2 + [0x68, 0x05, 0x2E],
                      Crafted.proto2 + [0x4E, 0x4E, 0x2E], Crafted.proto2 + [0x74, 0x2E], Crafted.proto2 + [0x28, 0x4E, 0x2E]] {
            expectError(bytes) {
                if case .malformedPickle = $0 { return true } else { return false }
            }
        }
    }

    @Test func selfContainingDictIsBoundedByNesting() {
        // d = {}; d["a"] = d  (memo 0 recalled inside itself)
        expectError(Crafted.proto2 + [0x7D, 0x71, 0x00] + Crafted.string("a") + [0x68, 0x00, 0x73, 0x2E]) {
            if case .limitExceeded = $0 { return true } else { return false }
        }
    }

    @Test func corruptedOrTruncatedZipIsRefused() throws {
        var zip = Crafted.torchZip(pickle: Crafted.stateDict(count: 4, shape: [4], stride: [1]), storages: [("0", Crafted.floats([1, 2, 3, 4]))])
        let good = zip
        // Flip one storage byte: CRC mismatch.
        let at = try #require(good.range(of: Crafted.floats([1, 2, 3, 4])))
        zip[at.lowerBound] ^= 0xFF
        #expect(throws: TorchFileError.checksumMismatch(path: "z.pth", entry: "archive/data/0")) { try TorchFile(data: zip, path: "z.pth") }
        // Cut the directory off.
        #expect(throws: TorchFileError.self) { try TorchFile(data: good.prefix(good.count - 30), path: "z.pth") }
        #expect(throws: TorchFileError.self) { try TorchFile(data: Data("not a torch file".utf8), path: "z.pth") }
        #expect(throws: TorchFileError.self) { try TorchFile(data: Data(), path: "z.pth") }
    }

    /// Every prefix of a real file and random byte flips: refused or read, never a crash.
    @Test func truncationsAndFlipsOfARealFileNeverCrash() throws {
        let real = try Data(contentsOf: interopFolder.appendingPathComponent("resnet_generator_module.pth"))
        for length in stride(from: 0, to: real.count, by: 97) {
            _ = try? TorchFile(data: real.prefix(length), path: "cut.pth")
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<300 {
            var copy = real
            for _ in 0..<3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let position = Int(state >> 33) % min(copy.count, 4096)   // the pickles sit at the front
                copy[position] ^= UInt8(truncatingIfNeeded: state >> 13) | 1
            }
            if let file = try? TorchFile(data: copy, path: "flipped.pth") { _ = file.tensors.map { $0.tensor.floats().count } }
        }
    }
}
