import CyclexEngine
import CyclexImaging
import CyclexTestSupport
import Foundation
import Synchronization
import Testing

/// Collects warnings from the loader's background-safe callback.
final class WarningLog: Sendable {
    let messages = Mutex<[String]>([])
    func append(_ message: String) { messages.withLock { $0.append(message) } }
    var all: [String] { messages.withLock { $0 } }
}

@Suite("Image folders, unpaired data sets, preprocessing and the prefetching loader")
struct DatasetTests {
    /// A CycleGAN layout with `countA` / `countB` PNG and JPEG files of varied sizes.
    func makeLayout(_ folder: TemporaryFolder, countA: Int, countB: Int, side: Int = 40) throws -> URL {
        try folder.makeFolder("ds/trainA")
        try folder.makeFolder("ds/trainB/sub")
        for i in 0..<countA {
            try smoothImage(width: side + i, height: side, channels: 3, seed: i).write(to: folder.file("ds/trainA/a\(i).png"))
        }
        for i in 0..<countB {
            try smoothImage(width: side, height: side + i, channels: i % 2 == 0 ? 3 : 1, seed: 100 + i)
                .write(to: folder.file("ds/trainB/sub/b\(i).jpg"))
        }
        return folder.file("ds")
    }

    @Test("Recursive listing: sorted by path, hidden files and non-images skipped, unsupported images reported")
    func listing() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let png = try readBytesOfSmallPNG(folder)
        for name in ["b.png", "a.JPG", "z/c.jpeg", "A.png", "m/n/deep.png", ".hidden.png", ".git/x.png", "notes.txt",
                     "Thumbs.db", "anim.gif", "scan.tiff"] {
            try folder.write(png, to: "images/" + name)
        }
        let listing = try ImageFolder(folder.file("images"))
        #expect(listing.files.map { listing.relativePath(of: $0) } == ["A.png", "a.JPG", "b.png", "m/n/deep.png", "z/c.jpeg"])
        #expect(listing.unsupportedFiles.map(\.lastPathComponent) == ["anim.gif", "scan.tiff"])
        let dataset = try UnpairedDataset(folderA: folder.file("images"), folderB: folder.file("images/m"))
        #expect(dataset.warnings.count == 1 && dataset.warnings[0].contains("anim.gif"))
    }

    func readBytesOfSmallPNG(_ folder: TemporaryFolder) throws -> [UInt8] {
        let url = folder.file("small.png")
        try smoothImage(width: 4, height: 4, channels: 3).write(to: url)
        return try readBytes(url)
    }

    @Test("CycleGAN epoch: max(|A|, |B|) steps, A[i mod |A|] over a permutation, uniform random B, seeded")
    func cycleGANEpoch() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = try makeLayout(folder, countA: 3, countB: 7, side: 8)
        let dataset = try UnpairedDataset(root: root)
        #expect(dataset.domainA.count == 3 && dataset.domainB.count == 7)
        #expect(dataset.stepsPerEpoch() == 7 && dataset.stepsPerEpoch(policy: .zipShuffled) == 3)

        var generator = RandomGenerator(seed: 42)
        let plan = dataset.epochPlan(using: &generator)
        #expect(plan.count == 7)
        // Every dataset index 0..<7 appears once, so A indices are 0,1,2,0,1,2,0 in some order.
        #expect(plan.map(\.indexA).sorted() == [0, 0, 0, 1, 1, 2, 2])
        var again = RandomGenerator(seed: 42)
        #expect(dataset.epochPlan(using: &again) == plan)
        #expect(again.state == generator.state)
        var other = RandomGenerator(seed: 43)
        #expect(dataset.epochPlan(using: &other) != plan)

        // B is uniform: over many epochs every B index is drawn about equally often.
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<2000 { for item in dataset.epochPlan(using: &generator) { counts[item.indexB] += 1 } }
        #expect(counts.allSatisfy { abs($0 - 2000) < 200 }, "\(counts)")

        // Without shuffling and with serial B the plan is the identity.
        let serial = dataset.epochPlan(shuffle: false, serialB: true, using: &generator)
        #expect(serial.map(\.indexA) == [0, 1, 2, 0, 1, 2, 0] && serial.map(\.indexB) == Array(0..<7))

        // Zipped policy: min steps, distinct A and distinct B.
        let zipped = dataset.epochPlan(policy: .zipShuffled, using: &generator)
        #expect(zipped.count == 3 && Set(zipped.map(\.indexA)).count == 3 && Set(zipped.map(\.indexB)).count == 3)
        #expect(UnpairedDataset.permutation(10, using: &generator).sorted() == Array(0..<10))
    }

    @Test("Preprocessing modes produce the documented sizes")
    func preprocessingModes() throws {
        let image = smoothImage(width: 50, height: 30, channels: 4)
        var generator = RandomGenerator(seed: 7)
        #expect(Preprocessing(size: 256).effectiveLoadSize == 286)
        #expect(Preprocessing(size: 64).effectiveLoadSize == 72)
        #expect(Preprocessing(size: 128).effectiveLoadSize == 143)

        let resizeAndCrop = try Preprocessing(mode: .resizeAndCrop, size: 24).apply(to: image, path: "x", using: &generator)
        #expect(resizeAndCrop.size == ImageSize(square: 24) && resizeAndCrop.channels == 3)
        let resized = try Preprocessing(mode: .resize, size: 16, channels: 1).apply(to: image, path: "x", using: &generator)
        #expect(resized.size == ImageSize(square: 16) && resized.channels == 1)
        let cropped = try Preprocessing(mode: .crop, size: 20).apply(to: image, path: "x", using: &generator)
        #expect(cropped.size == ImageSize(square: 20))
        // 50 / 4 = 12.5 → 12 (half to even) → 48; 30 / 4 = 7.5 → 8 → 32.
        let snapped = try Preprocessing(mode: .none).apply(to: image, path: "x", using: &generator)
        #expect(snapped.size == ImageSize(width: 48, height: 32))

        // Not training: centred crop and no flips, identical every time.
        let test = Preprocessing(mode: .resizeAndCrop, size: 24, isTraining: false)
        let first = try test.apply(to: image, path: "x", using: &generator)
        #expect(try test.apply(to: image, path: "x", using: &generator) == first)
        let expected = image.converted(toChannels: 3).resized(to: ImageSize(square: 27)).centerCropped(to: ImageSize(square: 24))
        #expect(first == expected)
        #expect(Preprocessing.inference(size: 32).mode == .resize)
    }

    @Test("Random crop and flip follow the seed; flips happen about half the time")
    func randomCropAndFlip() throws {
        let image = smoothImage(width: 20, height: 20, channels: 3)
        let options = Preprocessing(mode: .crop, size: 20, horizontalFlip: true)
        var generator = RandomGenerator(seed: 5)
        var flipped = 0
        for _ in 0..<400 {
            let out = try options.apply(to: image, path: "x", using: &generator)
            if out == image.flippedHorizontally() { flipped += 1 } else { #expect(out == image) }
        }
        #expect(flipped > 160 && flipped < 240, "\(flipped) of 400 flipped")
        // Crop offsets cover the whole range.
        let big = smoothImage(width: 30, height: 22, channels: 1)
        let crop = Preprocessing(mode: .crop, size: 20, horizontalFlip: false, channels: 1)
        var seen = Set<Int>()
        for _ in 0..<300 {
            let out = try crop.apply(to: big, path: "x", using: &generator)
            for x in 0...10 where out == big.cropped(x: x, y: 0, width: 20, height: 20) || out == big.cropped(x: x, y: 1, width: 20, height: 20)
                || out == big.cropped(x: x, y: 2, width: 20, height: 20) { seen.insert(x) }
        }
        #expect(seen == Set(0...10))
    }

    @Test("Loader: batches in plan order, same result with 1 or 2 workers, real values")
    func loader() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = try makeLayout(folder, countA: 5, countB: 4, side: 36)
        let dataset = try UnpairedDataset(root: root)
        var generator = RandomGenerator(seed: 9)
        let plan = dataset.epochPlan(using: &generator)
        let options = Preprocessing(mode: .resizeAndCrop, size: 32)

        func run(workers: Int, batchSize: Int) -> [UnpairedBatch] {
            let loader = UnpairedLoader(dataset: dataset, plan: plan, preprocessing: options, batchSize: batchSize,
                                        prefetch: 2, workers: workers)
            var batches: [UnpairedBatch] = []
            while let batch = loader.next() { batches.append(batch) }
            #expect(loader.itemsConsumed == plan.count)
            return batches
        }
        let single = run(workers: 1, batchSize: 2), parallel = run(workers: 2, batchSize: 2)
        #expect(single.map { $0.realA.shape } == [[2, 3, 32, 32], [2, 3, 32, 32], [1, 3, 32, 32]])
        #expect(single.map { $0.realB.shape[0] } == [2, 2, 1])
        for (a, b) in zip(single, parallel) {
            #expect(a.realA.scalars == b.realA.scalars && a.realB.scalars == b.realB.scalars && a.urlsA == b.urlsA)
        }
        // The first sample equals preprocessing the planned files directly with the item's seed.
        var itemGenerator = RandomGenerator(seed: plan[0].seed)
        let expectedA = try options.load(dataset.domainA.files[plan[0].indexA], using: &itemGenerator)
        let expectedB = try options.load(dataset.domainB.files[plan[0].indexB], using: &itemGenerator)
        let firstA = Array(single[0].realA.scalars.prefix(3 * 32 * 32)), firstB = Array(single[0].realB.scalars.prefix(3 * 32 * 32))
        #expect(firstA == expectedA.scalars && firstB == expectedB.scalars)
        #expect(firstA.allSatisfy { $0 >= -1 && $0 <= 1 } && Set(firstA).count > 50)
        #expect(single.flatMap(\.urlsA) == plan.map { dataset.domainA.files[$0.indexA] })
    }

    @Test("Loader skips bad files with one warning per file and a count; nothing crashes")
    func loaderSkipsBadFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = try makeLayout(folder, countA: 6, countB: 3, side: 36)
        // Corrupt two A files: a truncated PNG and a text file with a .png name.
        let good = try readBytes(folder.file("ds/trainA/a0.png"))
        try folder.write(Array(good.prefix(good.count / 3)), to: "ds/trainA/a1.png")
        try folder.write(Array("not an image".utf8), to: "ds/trainA/a4.png")
        try smoothImage(width: 10, height: 10, channels: 3).write(to: folder.file("ds/trainA/a5.png"))  // smaller than the crop
        let dataset = try UnpairedDataset(root: root)
        let skipped = SkippedFiles(), log = WarningLog()
        var generator = RandomGenerator(seed: 3)
        var delivered = 0
        for _ in 0..<3 {  // three epochs share the skip log
            let loader = UnpairedLoader(dataset: dataset, plan: dataset.epochPlan(using: &generator),
                                        preprocessing: Preprocessing(mode: .crop, size: 32), skippedFiles: skipped,
                                        warn: { log.append($0) })
            while let batch = loader.next() {
                delivered += 1
                #expect(!batch.urlsA[0].lastPathComponent.hasPrefix("a1") && !batch.urlsA[0].lastPathComponent.hasPrefix("a4"))
            }
        }
        #expect(delivered == 3 * 3)
        #expect(skipped.skippedSteps == 3 * 3)
        #expect(log.all.count == 3)
        #expect(log.all.contains { $0.contains("a1.png") && $0.contains("libpng") })
        #expect(log.all.contains { $0.contains("a4.png") && $0.contains("not a PNG or JPEG") })
        #expect(log.all.contains { $0.contains("a5.png") && $0.contains("smaller than the 32x32 crop") })
        #expect(skipped.summary == "skipped 9 step(s) because of 3 unreadable file(s)")
    }

    @Test("Dropping a loader early stops its threads")
    func earlyStop() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let dataset = try UnpairedDataset(root: try makeLayout(folder, countA: 4, countB: 4, side: 36))
        var generator = RandomGenerator(seed: 1)
        let plan = dataset.epochPlan(using: &generator)
        for _ in 0..<20 {
            let loader = UnpairedLoader(dataset: dataset, plan: plan + plan + plan, preprocessing: Preprocessing(size: 32), prefetch: 1, workers: 2)
            _ = loader.next()
        }
        let queue = PrefetchQueue<Int>(count: 1000, capacity: 3, workers: 2) { $0 * 2 }
        #expect(queue.next() == 0 && queue.next() == 2)
        queue.cancel()
        #expect(queue.next() == nil)
    }
}
