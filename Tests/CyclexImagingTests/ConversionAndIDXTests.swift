import CyclexEngine
import CyclexImaging
import CyclexTestSupport
import Foundation
import Testing

@Suite("Channel and depth conversion, tensors")
struct ConversionTests {
    @Test("Alpha is composited on white; gray is replicated; RGB → gray uses PIL's luma")
    func channels() {
        // gray+alpha: (100, a 0) → 255, (100, a 255) → 100, (0, a 128) → 127.
        let grayAlpha = Image(width: 3, height: 1, channels: 2, samples: [100, 0, 100, 255, 0, 128])
        #expect(grayAlpha.converted(toChannels: 3).samples8 == [255, 255, 255, 100, 100, 100, 127, 127, 127])
        #expect(grayAlpha.converted(toChannels: 1).samples8 == [255, 100, 127])
        #expect(grayAlpha.converted(toChannels: 4).samples8 == [100, 100, 100, 0, 100, 100, 100, 255, 0, 0, 0, 128])
        let rgba = Image(width: 2, height: 1, channels: 4, samples: [255, 0, 0, 128, 10, 20, 30, 255])
        #expect(rgba.converted(toChannels: 3).samples8 == [255, 127, 127, 10, 20, 30])
        // PIL L: (R·19595 + G·38470 + B·7471 + 2^15) >> 16; pure red → 76, (10, 20, 30) → 18.
        let rgb = Image(width: 2, height: 1, channels: 3, samples: [255, 0, 0, 10, 20, 30])
        #expect(rgb.converted(toChannels: 1).samples8 == [76, 18])
        #expect(rgb.converted(toChannels: 4).samples8 == [255, 0, 0, 255, 10, 20, 30, 255])
        let gray = Image(width: 2, height: 1, channels: 1, samples: [7, 200])
        #expect(gray.converted(toChannels: 3).samples8 == [7, 7, 7, 200, 200, 200])
        // The tensor of a gray image asked for RGB has three equal planes.
        let t = gray.tensor(channels: 3)
        #expect(t.shape == [1, 3, 1, 2])
        #expect(t.scalars[0] == t.scalars[2] && t.scalars[2] == t.scalars[4])
    }

    @Test("8 ↔ 16-bit conversion is lossless for 8-bit data; 16-bit tensors use 65535")
    func depth() {
        let image = noiseImage(width: 9, height: 7, channels: 3, sixteenBit: false)
        let deep = image.converted(toBitDepth: 16)
        #expect(deep.samples16!.prefix(3).elementsEqual(image.samples8!.prefix(3).map { UInt16($0) * 257 }))
        #expect(deep.converted(toBitDepth: 8) == image)
        #expect(deep.chwScalars() == image.chwScalars())
        let white16 = Image(width: 1, height: 1, channels: 1, samples: [UInt16(65535)])
        #expect(white16.chwScalars() == [1])
    }

    @Test("tensor → image: truncation, clamping, both layouts, batches")
    func tensorToImage() throws {
        let values: [Float] = [-1, -0.999, 0, 0.5, 1, 1.5, -3, .nan]
        let image = Image(chwScalars: values, channels: 1, height: 2, width: 4)
        // (x+1)/2·255: 0, 0.1275→0, 127.5→127, 191.25→191, 255, 318→255, clamp 0, NaN → 0.
        #expect(image.samples8 == [0, 0, 127, 191, 255, 255, 0, 0])
        let batch = Tensor(shape: [2, 3, 2, 2], scalars: (0..<24).map { Float($0) / 12 - 1 })
        let images = try Image.images(fromBatch: batch)
        #expect(images.count == 2 && images[1].channels == 3)
        #expect(images[0].sample(x: 1, y: 0, channel: 1) == Int(((Float(5) / 12 - 1 + 1) / 2 * 255)))
        // image → tensor → image: tensor2im truncates, so float rounding may lose one level
        // (e.g. 255 → 1.0 → 254.99998 → 254 never happens for the ends, but can in between).
        let original = Image(width: 256, height: 1, channels: 1, samples: (0..<256).map { UInt8($0) })
        let back = try Image(tensor: original.tensor())
        let differences = zip(back.samples8!, original.samples8!).map { Int($1) - Int($0) }
        #expect(differences.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(back.samples8!.first == 0 && back.samples8!.last == 255)
    }

    @Test("Resize keeps size when unchanged; 16-bit resize stays close to 8-bit resize; lanczos runs")
    func resizeExtras() {
        let image = smoothImage(width: 40, height: 30, channels: 3)
        #expect(image.resized(to: image.size) == image)
        let small8 = image.resized(to: ImageSize(width: 17, height: 13), filter: .bicubic)
        let small16 = image.converted(toBitDepth: 16).resized(to: ImageSize(width: 17, height: 13), filter: .bicubic)
        let diff = zip(small8.samples8!, small16.converted(toBitDepth: 8).samples8!).map { abs(Int($0) - Int($1)) }.max()!
        #expect(diff <= 1)
        let lanczos = image.resized(to: ImageSize(width: 64, height: 48), filter: .lanczos)
        #expect(lanczos.size == ImageSize(width: 64, height: 48))
        #expect(psnr(lanczos.resized(to: image.size, filter: .lanczos), image) > 35)
    }
}

@Suite("IDX files (MNIST, Fashion-MNIST)")
struct IDXTests {
    @Test("Plain and gzipped IDX files, classes and prefix subsets")
    func idxFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let count = 10
        let pixels = (0..<(count * 4 * 3)).map { UInt8($0 % 256) }
        let labels: [UInt8] = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
        try folder.write(idxBytes(dimensions: [count, 4, 3], values: pixels), to: "train-images-idx3-ubyte")
        try folder.write(Checksums.gzipStored(idxBytes(dimensions: [count, 1], values: labels)), to: "bad-labels")
        try folder.write(Checksums.gzipStored(idxBytes(dimensions: [count], values: labels)), to: "train-labels-idx1-ubyte.gz")
        try folder.write(Checksums.gzipStored(idxBytes(dimensions: [2, 4, 3], values: Array(pixels.prefix(24)))), to: "t10k-images.idx3-ubyte.gz")
        try folder.write(idxBytes(dimensions: [2], values: [7, 7]), to: "t10k-labels.idx1-ubyte")

        let train = try LabeledImageSet.mnist(directory: folder.url, split: .train)
        #expect(train.count == 10 && train.height == 4 && train.width == 3 && train.labels == labels && train.pixels == pixels)
        let all = try LabeledImageSet.mnist(directory: folder.url)
        #expect(all.count == 12 && all.labels.suffix(2) == [7, 7])
        #expect(all.image(at: 1).samples8 == Array(pixels[12..<24]) && all.image(at: 1).size == ImageSize(width: 3, height: 4))

        let ones = all.selecting(classes: [1])
        #expect(ones.count == 3 && ones.image(at: 0) == all.image(at: 3) && ones.image(at: 2) == all.image(at: 8))
        #expect(all.prefix(fraction: 0.35).count == 4 && all.prefix(fraction: 0.35).labels == [5, 0, 4, 1])
        #expect(all.prefix(fraction: 1).count == 12 && all.prefix(fraction: 0).count == 0)
        #expect(all.selecting(classes: [1, 7]).prefix(fraction: 0.5).labels == [1, 1])

        _ = expectImageError(["bad-labels", "labels (rank 1)"]) {
            _ = try LabeledImageSet(images: folder.file("train-images-idx3-ubyte"), labels: folder.file("bad-labels"))
        }
    }

    @Test("Malformed IDX files: truncated data, bad magic, truncated gzip, missing files")
    func malformed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let good = idxBytes(dimensions: [3, 2, 2], values: [UInt8](repeating: 1, count: 12))
        let truncated = try folder.write(Array(good.dropLast(5)), to: "short.idx")
        _ = expectImageError(["short.idx", "truncated"]) { _ = try IDXArray(contentsOf: truncated) }
        let magic = try folder.write([1, 2, 3, 4] + good.dropFirst(4), to: "magic.idx")
        _ = expectImageError(["magic.idx", "bad magic"]) { _ = try IDXArray(contentsOf: magic) }
        let floats = try folder.write([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], to: "float.idx")
        _ = expectImageError(["float.idx", "0x0D not supported"]) { _ = try IDXArray(contentsOf: floats) }
        let gz = Checksums.gzipStored(good)
        let cut = try folder.write(Array(gz.prefix(gz.count - 10)), to: "cut.idx.gz")
        _ = expectImageError(["cut.idx.gz"]) { _ = try IDXArray(contentsOf: cut) }
        _ = expectImageError(["train-images-idx3-ubyte", "no such file"]) { _ = try LabeledImageSet.mnist(directory: folder.url) }
        #expect(try IDXArray(contentsOf: try folder.write(gz, to: "ok.gz")).dimensions == [3, 2, 2])
    }
}
