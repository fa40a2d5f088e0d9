import CyclexEngine
import CyclexImaging
import Foundation
import Testing

/// A deterministic mutation fuzzer over the four untrusted binary formats cyclex reads: PNG,
/// JPEG, IDX and safetensors. Each round mutates one of a few valid seed files (bit flips,
/// interesting values in 1/2/4/8-byte fields, inserted/deleted/duplicated runs, truncation,
/// splices between seeds, and numbers in a safetensors JSON header or IDX dimensions replaced by
/// extreme ones) and hands the result to the reader, which must return or throw: no crash, no
/// hang (every input is timed), bounded memory (peak RSS is checked).
///
/// Runs `CYCLEX_FUZZ_SECONDS` seconds (default 3) from seed `CYCLEX_FUZZ_SEED` (default 1) and
/// prints how many inputs it tried. The sequence of inputs depends only on the seed; the time
/// bound only decides how far along it the run gets.
@Suite("Fuzz: mutated PNG, JPEG, IDX and safetensors bytes never crash, hang or balloon")
struct FuzzTests {
    /// SplitMix64: small, fast, reproducible.
    struct Mutator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

        static let interesting: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0xFFDA,
                                            0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
                                            0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max, 65500, 33000]

        /// One to four stacked mutations of `input`; `other` supplies splice material.
        mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
            var bytes = input
            for _ in 0..<(1 + below(4)) {
                if bytes.isEmpty { bytes = [UInt8(truncatingIfNeeded: next())] }
                let at = below(bytes.count)
                switch below(9) {
                case 0, 1:  // bit flips
                    for _ in 0..<(1 + below(8)) { bytes[below(bytes.count)] ^= UInt8(1) << UInt8(below(8)) }
                case 2:  // random byte
                    bytes[at] = UInt8(truncatingIfNeeded: next())
                case 3:  // interesting value in a 1/2/4/8-byte field, either byte order
                    let width = [1, 2, 4, 8][below(4)], value = Self.interesting[below(Self.interesting.count)]
                    let big = below(2) == 0
                    for k in 0..<width where at + k < bytes.count {
                        let shift = big ? (width - 1 - k) * 8 : k * 8
                        bytes[at + k] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
                    }
                case 4:  // delete a run
                    bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(64)))
                case 5:  // duplicate a run (repeated markers, chunks, scans)
                    let run = Array(bytes[at..<min(bytes.count, at + 1 + below(256))])
                    bytes.insert(contentsOf: run, at: below(bytes.count + 1))
                case 6:  // insert random bytes
                    bytes.insert(contentsOf: (0..<(1 + below(16))).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
                case 7:  // truncate
                    bytes.removeSubrange(at..<bytes.count)
                default:  // splice another seed's tail
                    if !other.isEmpty {
                        let from = below(other.count)
                        bytes = Array(bytes[..<at]) + other[from...]
                    }
                }
            }
            return bytes
        }

        /// Recomputes every chunk CRC it can find, so mutations reach libpng's parsers instead of
        /// stopping at the checksum.
        static func fixingPNGChecksums(_ input: [UInt8]) -> [UInt8] {
            var bytes = input, at = 8
            while at + 12 <= bytes.count {
                let length = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
                guard length <= bytes.count - at - 12 else { break }
                let crc = Checksums.bigEndian(Checksums.crc32(bytes[(at + 4)..<(at + 8 + length)]))
                bytes.replaceSubrange((at + 8 + length)..<(at + 12 + length), with: crc)
                at += 12 + length
            }
            return bytes
        }

        /// Replaces one number in a safetensors JSON header with an extreme one (shapes, offsets).
        mutating func mutateHeaderNumber(_ file: [UInt8]) -> [UInt8] {
            guard file.count >= 8 else { return file }
            let declared = file[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << UInt64(8 * $1.offset) }
            guard declared > 0, declared <= UInt64(file.count - 8) else { return file }  // (a mutated length field)
            let length = Int(declared)
            var header = String(decoding: file[8..<(8 + length)], as: UTF8.self)
            let numbers = header.ranges(of: /-?[0-9]+/)
            guard !numbers.isEmpty else { return file }
            let extremes = ["-1", "0", "-16", "4294967296", "9223372036854775807", "-9223372036854775808",
                            "18446744073709551616", "1e308", "3.5", "null", "[]", "\"4\"", "65536", "3037000500"]
            header.replaceSubrange(numbers[below(numbers.count)], with: extremes[below(extremes.count)])
            var json = Array(header.utf8)
            if below(2) == 0 { while json.count < length { json.append(0x20) } }  // keep the data aligned
            var out = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) }
            out += json
            out += file[(8 + length)...]
            return out
        }
    }

    enum Format: String, CaseIterable { case png, jpeg, idx, safetensors }

    /// Valid seed files of each format.
    static func seeds() throws -> [Format: [[UInt8]]] {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var png: [[UInt8]] = [], jpeg: [[UInt8]] = []
        let rgb = smoothImage(width: 24, height: 17, channels: 3), gray = smoothImage(width: 9, height: 13, channels: 1)
        let rgba = noiseImage(width: 11, height: 7, channels: 4, sixteenBit: true)
        for (i, (image, level)) in [(rgb, 6), (gray, 0), (rgba, 9)].enumerated() {
            try image.write(to: folder.file("\(i).png"), format: .png(compressionLevel: level))
            png.append(try readBytes(folder.file("\(i).png")))
        }
        png.append(HandPNG(width: 5, height: 3, bitDepth: 4, colorType: 3, interlaced: true,
                           palette: [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)], transparency: [0, 128],
                           pixels: (0..<15).map { [$0 % 4] }).encode())
        for (i, (image, progressive)) in [(rgb, false), (rgb, true), (gray, true)].enumerated() {
            try image.write(to: folder.file("\(i).jpg"), format: .jpeg(quality: 80, progressive: progressive))
            jpeg.append(try readBytes(folder.file("\(i).jpg")))
        }
        jpeg.append(jpegWithOrientation(jpeg[0], orientation: 6, bigEndian: true))
        let idx = [idxBytes(dimensions: [3, 4, 5], values: (0..<60).map { UInt8($0) }),
                   idxBytes(dimensions: [7], values: [1, 2, 3, 4, 5, 6, 7])]
        var writer = SafeTensorsWriter()
        writer.add("G_A.model.1.weight", Tensor(shape: [2, 3, 1, 1], scalars: [1, 2, 3, 4, 5, 6]))
        writer.add("optimizer.G.step", int64s: [3, 4], shape: [2])
        writer.add("pool.A.images", doubles: [0.5, -0.5, 1], shape: [1, 3])
        writer.add("mask", bytes: [1, 0, 1, 1], shape: [2, 2])
        writer.metadata["cyclex.model"] = #"{"kind":"cyclegan","imageSize":8}"#
        let safetensors = [[UInt8](try writer.encoded())]
        return [.png: png, .jpeg: jpeg, .idx: idx, .safetensors: safetensors]
    }

    /// Feeds one input to its reader; errors are the expected outcome of most inputs. Returns
    /// whether the reader accepted it.
    @discardableResult
    static func consume(_ bytes: [UInt8], as format: Format, limits: ImageLimits) -> Bool {
        switch format {
        case .png, .jpeg:
            guard let image = try? Image(decoding: bytes, name: "fuzz", limits: limits) else { return false }
            precondition(image.width > 0 && image.height > 0, "decoded an empty image")
        case .idx:
            guard let array = try? IDXArray(bytes: bytes, name: "fuzz") else { return false }
            precondition(array.values.count == array.dimensions.reduce(1, *), "IDX values do not fill the dimensions")
        case .safetensors:
            guard let file = try? SafeTensorsFile(data: Data(bytes), path: "fuzz") else { return false }
            do {
                for name in file.names {
                    let entry = file.entries[name]!
                    if let values = try? file.floats(name) { precondition(values.count == entry.count) }
                    if let tensor = try? file.tensor(name) { precondition(tensor.shape == entry.shape) }
                    _ = try? file.int64s(name)
                    _ = try? file.bytes(name)
                    _ = try? file.doubles(name)
                }
            }
        }
        return true
    }

    @Test("Seeded mutation loop, bounded in time")
    func mutationLoop() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["CYCLEX_FUZZ_SECONDS"].flatMap(Double.init) ?? 3
        let seed = environment["CYCLEX_FUZZ_SEED"].flatMap(UInt64.init) ?? 1
        // Tight enough that no accepted input can take more than ~64 MB or a long time.
        let limits = ImageLimits(maxPixels: 4_000_000, maxSide: 8192, maxJPEGScans: 100, maxFileBytes: 16 << 20)
        let seeds = try Self.seeds()
        for (format, files) in seeds { for file in files { Self.consume(file, as: format, limits: limits) } }

        var mutator = Mutator(state: seed)
        var counts: [Format: Int] = [:], accepted: [Format: Int] = [:]
        var slowest: (seconds: Double, format: Format, round: Int) = (0, .png, 0)
        let residentBefore = peakResidentBytes()
        let start = Date()
        var round = 0
        while Date().timeIntervalSince(start) < seconds {
            let format = Format.allCases[round % Format.allCases.count]
            let files = seeds[format]!
            let base = files[mutator.below(files.count)], other = files[mutator.below(files.count)]
            var input = format == .safetensors && mutator.below(2) == 0
                ? mutator.mutateHeaderNumber(mutator.below(3) == 0 ? mutator.mutate(base, other: other) : base)
                : mutator.mutate(base, other: other)
            if format == .png && mutator.below(4) != 0 { input = Mutator.fixingPNGChecksums(input) }
            let began = Date()
            if Self.consume(input, as: format, limits: limits) { accepted[format, default: 0] += 1 }
            let took = Date().timeIntervalSince(began)
            if took > slowest.seconds { slowest = (took, format, round) }
            counts[format, default: 0] += 1
            round += 1
        }
        let total = counts.values.reduce(0, +)
        let growth = peakResidentBytes() - residentBefore
        print("fuzz: \(total) inputs in \(String(format: "%.0f", seconds)) s from seed \(seed) ("
            + Format.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0), \(accepted[$0] ?? 0) accepted" }.joined(separator: ", ")
            + String(format: "); slowest input %.3f s (%@ round %d); peak RSS grew %d MB", slowest.seconds,
                     slowest.format.rawValue, slowest.round, growth >> 20))
        #expect(total >= 4, "the loop made no progress")
        // No single input may come near a hang: generous for a loaded 2-core machine.
        #expect(slowest.seconds < 5, "round \(slowest.round) (\(slowest.format)) took \(slowest.seconds) s")
        #expect(growth < 1 << 30, "peak memory grew by \(growth >> 20) MB")
    }
}
