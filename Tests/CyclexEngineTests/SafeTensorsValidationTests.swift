import CyclexEngine
import Foundation
import Testing

/// A safetensors file assembled by hand: `header` is the JSON text, `declaredLength` overrides the
/// 8-byte length field, `data` follows the header.
private func crafted(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let json = Array(header.utf8)
    var length = (declaredLength ?? UInt64(json.count)).littleEndian
    var out = Data(bytes: &length, count: 8)
    out.append(contentsOf: json)
    out.append(contentsOf: data)
    return out
}

/// Expects parsing `bytes` as `name` to fail with a message holding every fragment.
private func expectRefused(
    _ bytes: Data, _ fragments: [String], name: String = "crafted.safetensors",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let file = try SafeTensorsFile(data: bytes, path: name)
        Issue.record("accepted a malformed file with \(file.entries.count) tensor(s)", sourceLocation: sourceLocation)
    } catch let error as SafeTensorsError {
        let message = error.localizedDescription
        #expect(message.hasPrefix(name + ":"), "'\(message)' does not start with the file name", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(message.contains(fragment), "'\(message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Safetensors: every length, offset, dtype and shape is checked against the file")
struct SafeTensorsValidationTests {
    /// 16 bytes of data: four F32 values 1, 2, 3, 4.
    let fourFloats: [UInt8] = [Float(1), 2, 3, 4].withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }

    @Test("A well-formed hand-made file reads back its values")
    func wellFormedFileReads() throws {
        let file = try SafeTensorsFile(
            data: crafted(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"k":"v"}}"#, data: fourFloats),
            path: "ok.safetensors")
        #expect(try file.floats("a") == [1, 2, 3, 4])
        #expect(try file.tensor("a").shape == [2, 2])
        #expect(file.metadata == ["k": "v"])
        // Zero-element tensors and scalars are valid.
        let edge = try SafeTensorsFile(
            data: crafted(#"{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#,
                          data: Array(fourFloats.prefix(4))),
            path: "edge.safetensors")
        #expect(try edge.floats("e").isEmpty)
        #expect(try edge.floats("s") == [1])
    }

    @Test("Header lengths: zero, past the file, near 2^63 and 2^64")
    func headerLength() {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        expectRefused(Data([1, 2, 3]), ["shorter than 8 bytes"])
        for declared: UInt64 in [0, 1, 1000, (1 << 63) - 8, 1 << 63, UInt64.max, UInt64.max - 7] {
            expectRefused(crafted(header, data: fourFloats, declaredLength: declared), ["header length \(declared)"])
        }
    }

    @Test("Negative and huge data_offsets")
    func offsets() {
        for offsets in ["[-16,0]", "[-8,8]", "[0,-16]", "[16,0]", "[0,9223372036854775807]",
                        "[9223372036854775800,9223372036854775807]", "[0,18446744073709551615]",
                        "[0,32]", "[0, 1e300]", "[0,16.5]", "[0]", "[0,16,32]", "\"0-16\""] {
            expectRefused(
                crafted(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":\#(offsets)}}"#, data: fourFloats),
                ["tensor 'a'"])
        }
    }

    @Test("Shapes: negative dims, overflowing products, non-integers, too many dims, wrong byte counts")
    func shapes() {
        // [-1, -4] has a product of 4, which matches the 16 bytes: only the sign check catches it.
        for shape in ["[-1,-4]", "[-4]", "[4294967296,4294967296,16]", "[9223372036854775807,2]",
                      "[3037000500,3037000500]", "[2.5,2]", "[\"4\"]", "[null]", "4", "[1e20]",
                      "[" + Array(repeating: "1", count: 17).joined(separator: ",") + ",4]",
                      "[5]", "[2,3]", "[0]"] {
            expectRefused(
                crafted(#"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,16]}}"#, data: fourFloats),
                ["tensor 'a'"])
        }
    }

    @Test("Unknown dtypes, missing fields, bad metadata, empty names, non-JSON headers")
    func structure() {
        expectRefused(crafted(#"{"a":{"dtype":"F8","shape":[16],"data_offsets":[0,16]}}"#, data: fourFloats), ["tensor 'a'", "dtype 'F8'"])
        expectRefused(crafted(#"{"a":{"shape":[4],"data_offsets":[0,16]}}"#, data: fourFloats), ["tensor 'a'", "dtype"])
        expectRefused(crafted(#"{"a":{"dtype":"F32","data_offsets":[0,16]}}"#, data: fourFloats), ["tensor 'a'", "shape"])
        expectRefused(crafted(#"{"a":[1,2]}"#, data: fourFloats), ["tensor 'a'"])
        expectRefused(crafted(#"{"":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: fourFloats), ["empty name"])
        expectRefused(crafted(#"{"__metadata__":{"k":1}}"#), ["__metadata__"])
        expectRefused(crafted(#"{"__metadata__":[1]}"#), ["__metadata__"])
        expectRefused(crafted(#"[1,2,3]"#), ["not a JSON object"])
        expectRefused(crafted(#"{"a":"#), ["not JSON"])
        expectRefused(crafted(String(repeating: "[", count: 100_000)), ["not JSON"])
    }

    @Test("Overlapping ranges, gaps, duplicate ranges, truncated and padded data")
    func ranges() {
        let eight = fourFloats + fourFloats
        expectRefused(
            crafted(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#,
                    data: Array(eight.prefix(24))),
            ["overlaps"])
        expectRefused(
            crafted(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
                    data: fourFloats),
            ["overlaps"])
        expectRefused(
            crafted(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: fourFloats),
            ["bytes 0..<8", "tensor 'a'"])
        expectRefused(crafted(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: fourFloats), ["cover 8 of the 16"])
        expectRefused(crafted(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: Array(fourFloats.prefix(12))),
                      ["tensor 'a'", "outside the 12 data bytes"])
    }

    @Test("Errors from files on disk name the path; the writer's output passes validation")
    func onDisk() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cyclex-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var writer = SafeTensorsWriter()
        writer.add("w", Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        writer.add("steps", int64s: [7, 8], shape: [2])
        writer.add("empty", floats: [], shape: [0, 4])
        writer.metadata["note"] = "x"
        let good = folder.appendingPathComponent("good.safetensors")
        try writer.write(to: good)
        let file = try SafeTensorsFile(contentsOf: good)
        #expect(try file.tensor("w").scalars == [1, 2, 3, 4, 5, 6])
        #expect(try file.int64s("steps") == [7, 8])
        #expect(file.names.count == 3)

        var bytes = try Data(contentsOf: good)
        bytes.removeLast(4)
        let truncated = folder.appendingPathComponent("truncated.safetensors")
        try bytes.write(to: truncated)
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: truncated) }
        do { _ = try SafeTensorsFile(contentsOf: truncated) } catch {
            #expect(error.localizedDescription.hasPrefix(truncated.path + ":"))
        }
    }
}
