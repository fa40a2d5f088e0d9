import CyclexEngine
import CyclexImaging
import Foundation
import Testing

/// A CycleGAN data folder of the usual shape (trainA/ trainB/ testA/ testB/ with JPEGs, some of
/// them gray, as in horse2zebra), written by the test itself so nothing outside the repository
/// is needed.
@Suite("Data set folders written by the test")
struct RealDataTests {
    /// Writes `count` JPEGs of `size` into `folder/name`, the ones at `grayAt` as 8-bit gray.
    static func writeJPEGs(_ folder: TemporaryFolder, _ name: String, count: Int, size: Int, grayAt: Set<Int>) throws {
        try folder.makeFolder(name)
        for i in 0..<count {
            let image = smoothImage(width: size, height: size, channels: grayAt.contains(i) ? 1 : 3, seed: i)
            try image.write(to: folder.file("\(name)/\(String(format: "n%04d", i)).jpg"), format: .jpeg(quality: 90))
        }
    }

    @Test("CycleGAN folder of JPEGs: every file decodes at its size; gray JPEGs stay gray; pairs by name")
    func jpegDataset() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (countA, countB, side) = (7, 9, 48)
        let grayB: Set<Int> = [2, 5, 8]
        try Self.writeJPEGs(folder, "trainA", count: countA, size: side, grayAt: [])
        try Self.writeJPEGs(folder, "trainB", count: countB, size: side, grayAt: grayB)
        try Self.writeJPEGs(folder, "testA", count: 3, size: side, grayAt: [])
        try Self.writeJPEGs(folder, "testB", count: 3, size: side, grayAt: [1])

        let train = try UnpairedDataset(root: folder.url)
        #expect(train.domainA.count == countA && train.domainB.count == countB)
        var gray = 0
        for url in train.domainA.files + train.domainB.files {
            let image = try Image(contentsOf: url)
            #expect(image.width == side && image.height == side, "\(url.lastPathComponent)")
            if image.channels == 1 { gray += 1 }
        }
        #expect(gray == grayB.count)

        let test = try UnpairedDataset(root: folder.url, phase: "test")
        #expect(test.domainA.files.map(\.lastPathComponent) == test.domainB.files.map(\.lastPathComponent))
        // Gray images enter training as three equal channels.
        let options = Preprocessing(mode: .resizeAndCrop, size: 32)
        var generator = RandomGenerator(seed: 1)
        let (scalars, size) = try options.load(test.domainB.files[1], using: &generator)
        #expect(size == ImageSize(square: 32) && scalars.count == 3 * 32 * 32)
        let plane = 32 * 32
        #expect(Array(scalars[0..<plane]) == Array(scalars[plane..<(2 * plane)]))
    }
}
