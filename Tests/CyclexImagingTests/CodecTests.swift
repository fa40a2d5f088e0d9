import CImageCodecs
import CyclexImaging
import Foundation
import Testing

@Suite("PNG and JPEG decoding and encoding")
struct CodecTests {
    @Test("PNG round trips are byte-exact for 1–4 channels at 8 and 16 bits", arguments: [1, 2, 3, 4])
    func pngRoundTrip(channels: Int) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for sixteenBit in [false, true] {
            let image = noiseImage(width: 23, height: 17, channels: channels, sixteenBit: sixteenBit, seed: UInt64(channels))
            let url = folder.file("c\(channels)-\(sixteenBit ? 16 : 8).png")
            try image.write(to: url)
            let decoded = try Image(contentsOf: url)
            #expect(decoded == image)
            #expect(decoded.bitDepth == (sixteenBit ? 16 : 8))
            #expect(decoded.channels == channels)
        }
    }

    @Test("16-bit PNG samples keep their value (big-endian in the file, host order in memory)")
    func sixteenBitValues() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let png = HandPNG(width: 3, height: 1, bitDepth: 16, colorType: 2,
                          pixels: [[200 * 257, 1, 65535], [0, 0x1234, 0xABCD], [0xFF00, 0x00FF, 7]])
        let url = try folder.write(png.encode(), to: "rgb16.png")
        let image = try Image(contentsOf: url)
        #expect(image.bitDepth == 16 && image.channels == 3)
        #expect(image.samples16 == [51400, 1, 65535, 0, 0x1234, 0xABCD, 0xFF00, 0x00FF, 7])
        // 16 → 8 bit rounds v / 257.
        #expect(image.converted(toBitDepth: 8).samples8 == [200, 0, 255, 0, 18, 171, 254, 1, 0])
    }

    @Test("Hand-built PNG variants decode to the expected samples")
    func pngVariants() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (w, h) = (11, 9)
        let gray = (0..<(w * h)).map { [($0 * 7) % 256] }
        let rgb = (0..<(w * h)).map { [($0 * 3) % 256, ($0 * 5) % 256, 255 - ($0 % 256)] }

        // 8-bit gray, gray+alpha, RGB, RGBA, plus their interlaced versions: identical samples.
        let cases: [(Int, [[Int]], Int)] = [
            (0, gray, 1), (4, gray.map { $0 + [200] }, 2), (2, rgb, 3), (6, rgb.map { $0 + [($0[0] + 1) % 256] }, 4),
        ]
        for (colorType, pixels, channels) in cases {
            for interlaced in [false, true] {
                let png = HandPNG(width: w, height: h, bitDepth: 8, colorType: colorType, interlaced: interlaced, pixels: pixels)
                let url = try folder.write(png.encode(), to: "t\(colorType)-\(interlaced).png")
                let image = try Image(contentsOf: url)
                #expect(image.channels == channels && image.width == w && image.height == h && image.bitDepth == 8)
                #expect(image.samples8 == pixels.flatMap { $0.map(UInt8.init) }, "colour type \(colorType), interlaced \(interlaced)")
            }
        }

        // 1-bit gray expands to 0 / 255.
        let bits = (0..<(w * h)).map { [($0 / 3) % 2] }
        let oneBit = try Image(contentsOf: try folder.write(HandPNG(width: w, height: h, bitDepth: 1, colorType: 0, pixels: bits).encode(), to: "g1.png"))
        #expect(oneBit.channels == 1 && oneBit.samples8 == bits.map { UInt8($0[0] * 255) })

        // 4-bit gray: v · 17.
        let nibbles = (0..<(w * h)).map { [$0 % 16] }
        let fourBit = try Image(contentsOf: try folder.write(HandPNG(width: w, height: h, bitDepth: 4, colorType: 0, interlaced: true, pixels: nibbles).encode(), to: "g4i.png"))
        #expect(fourBit.samples8 == nibbles.map { UInt8($0[0] * 17) })

        // Palette → RGB; with tRNS → RGBA.
        let palette: [(UInt8, UInt8, UInt8)] = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
        let indices = (0..<(w * h)).map { [$0 % 4] }
        let paletted = try Image(contentsOf: try folder.write(
            HandPNG(width: w, height: h, bitDepth: 2, colorType: 3, palette: palette, pixels: indices).encode(), to: "p2.png"))
        #expect(paletted.channels == 3)
        #expect(paletted.samples8 == indices.flatMap { [palette[$0[0]].0, palette[$0[0]].1, palette[$0[0]].2] })
        let withAlpha = try Image(contentsOf: try folder.write(
            HandPNG(width: w, height: h, bitDepth: 8, colorType: 3, interlaced: true, palette: palette,
                    transparency: [0, 128], pixels: indices).encode(), to: "p8t.png"))
        #expect(withAlpha.channels == 4)
        let alphas: [UInt8] = [0, 128, 255, 255]
        #expect(withAlpha.samples8 == indices.flatMap { [palette[$0[0]].0, palette[$0[0]].1, palette[$0[0]].2, alphas[$0[0]]] })

        // 16-bit gray + alpha, interlaced.
        let wide = (0..<(w * h)).map { [$0 * 601 % 65536, 65535 - $0] }
        let ga16 = try Image(contentsOf: try folder.write(
            HandPNG(width: w, height: h, bitDepth: 16, colorType: 4, interlaced: true, pixels: wide).encode(), to: "ga16i.png"))
        #expect(ga16.bitDepth == 16 && ga16.channels == 2 && ga16.samples16 == wide.flatMap { $0.map(UInt16.init) })
    }

    @Test("JPEG round trips stay within a PSNR bound", arguments: [false, true])
    func jpegRoundTrip(progressive: Bool) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for channels in [1, 3] {
            let image = smoothImage(width: 64, height: 48, channels: channels)
            let url = folder.file("c\(channels).jpg")
            try image.write(to: url, format: .jpeg(quality: 95, progressive: progressive))
            let decoded = try Image(contentsOf: url)
            #expect(decoded.channels == channels && decoded.width == 64 && decoded.height == 48)
            let quality = psnr(decoded, image)
            #expect(quality > 38, "PSNR \(quality) dB, channels \(channels), progressive \(progressive)")
            let bytes = try readBytes(url)
            // SOF2 (0xFFC2) marks a progressive JPEG, SOF0 a baseline one.
            let hasSOF2 = zip(bytes, bytes.dropFirst()).contains { $0 == 0xFF && $1 == 0xC2 }
            #expect(hasSOF2 == progressive)
        }
        // Lower quality gives a smaller file and a lower but still reasonable PSNR.
        let image = smoothImage(width: 64, height: 48, channels: 3)
        try image.write(to: folder.file("q50.jpg"), format: .jpeg(quality: 50))
        try image.write(to: folder.file("q95.jpg"), format: .jpeg(quality: 95))
        let q50 = try Image(contentsOf: folder.file("q50.jpg"))
        #expect(try readBytes(folder.file("q50.jpg")).count < readBytes(folder.file("q95.jpg")).count)
        #expect(psnr(q50, image) > 30)
    }

    @Test("JPEG writing composites alpha on white and reduces 16-bit to 8")
    func jpegWriteConversions() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let transparent = Image(width: 16, height: 16, channels: 4, samples: [UInt8](repeating: 0, count: 16 * 16 * 4))
        try transparent.write(to: folder.file("alpha.jpg"))
        let decoded = try Image(contentsOf: folder.file("alpha.jpg"))
        #expect(decoded.channels == 3)
        #expect(decoded.samples8!.allSatisfy { $0 >= 253 })
        let deep = smoothImage(width: 16, height: 16, channels: 3).converted(toBitDepth: 16)
        try deep.write(to: folder.file("deep.jpeg"))
        #expect(try Image(contentsOf: folder.file("deep.jpeg")).bitDepth == 8)
    }

    @Test("CMYK and YCCK JPEGs (Adobe, inverted) decode to RGB", arguments: [false, true])
    func cmykJPEG(ycck: Bool) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Flat colour patches (16×16, MCU-aligned) so the comparison measures the colour conversion.
        let colours: [[UInt8]] = [[200, 30, 40], [20, 180, 90], [250, 250, 250], [10, 20, 160]]
        var samples: [UInt8] = []
        for y in 0..<32 { for x in 0..<32 { samples += colours[(y / 16) * 2 + x / 16] } }
        let image = Image(width: 32, height: 32, channels: 3, samples: samples)
        let path = folder.file(ycck ? "ycck.jpg" : "cmyk.jpg").path
        var message = [CChar](repeating: 0, count: 256)
        let code = image.samples8!.withUnsafeBufferPointer { buffer in
            var raw = cx_image(width: 32, height: 32, channels: 3, depth: 8, exif_orientation: 1,
                               pixels: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            return cx_jpeg_write_cmyk(path, &raw, 98, ycck ? 1 : 0, &message, message.count)
        }
        #expect(code == 0)
        let decoded = try Image(contentsOf: URL(fileURLWithPath: path))
        #expect(decoded.channels == 3 && decoded.width == 32)
        for (i, colour) in colours.enumerated() {
            let (cx, cy) = ((i % 2) * 16 + 8, (i / 2) * 16 + 8)
            for c in 0..<3 {
                #expect(abs(decoded.sample(x: cx, y: cy, channel: c) - Int(colour[c])) <= 4,
                        "patch \(i) channel \(c): \(decoded.sample(x: cx, y: cy, channel: c)) vs \(colour[c])")
            }
        }
    }

    @Test("EXIF orientation 1–8 is applied (big- and little-endian TIFF headers)")
    func exifOrientation() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // 64×32, four flat quadrants: red, green / blue, white.
        let quadrants: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]
        var samples: [UInt8] = []
        for y in 0..<32 { for x in 0..<64 { samples += quadrants[(y / 16) * 2 + x / 32] } }
        try Image(width: 64, height: 32, channels: 3, samples: samples).write(to: folder.file("plain.jpg"))
        let plainBytes = try readBytes(folder.file("plain.jpg"))
        let upright = try Image(contentsOf: folder.file("plain.jpg"))

        func transpose(_ image: Image) -> Image {
            var out = [UInt8](repeating: 0, count: image.samples8!.count)
            for r in 0..<image.width { for c in 0..<image.height { for k in 0..<3 {
                out[(r * image.height + c) * 3 + k] = UInt8(image.sample(x: r, y: c, channel: k))
            } } }
            return Image(width: image.height, height: image.width, channels: 3, samples: out)
        }
        let expected: [UInt16: Image] = [
            1: upright, 2: upright.flippedHorizontally(), 3: upright.flippedHorizontally().flippedVertically(),
            4: upright.flippedVertically(), 5: transpose(upright), 6: transpose(upright).flippedHorizontally(),
            7: transpose(upright).flippedHorizontally().flippedVertically(), 8: transpose(upright).flippedVertically(),
        ]
        for orientation in UInt16(1)...8 {
            for bigEndian in [true, false] {
                let url = try folder.write(jpegWithOrientation(plainBytes, orientation: orientation, bigEndian: bigEndian),
                                           to: "o\(orientation)\(bigEndian).jpg")
                let image = try Image(contentsOf: url)
                #expect(image == expected[orientation]!, "orientation \(orientation)")
            }
        }
        // Orientation 6 (camera turned clockwise): displayed top-left is the stored bottom-left (blue).
        let rotated = try Image(contentsOf: folder.file("o6true.jpg"))
        #expect(rotated.width == 32 && rotated.height == 64)
        #expect(rotated.sample(x: 2, y: 2, channel: 2) > 240 && rotated.sample(x: 2, y: 2, channel: 0) < 15)
    }

    @Test("Decoding from memory matches decoding the file; format is sniffed, not taken from the name")
    func memoryAndSniffing() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let image = smoothImage(width: 20, height: 10, channels: 3)
        try image.write(to: folder.file("a.png"))
        let bytes = try readBytes(folder.file("a.png"))
        #expect(try Image(decoding: bytes) == image)
        let misnamed = try folder.write(bytes, to: "really-a-png.jpg")
        #expect(try Image(contentsOf: misnamed) == image)
    }
}
