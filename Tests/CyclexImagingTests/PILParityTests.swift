import CyclexEngine
import CyclexImaging
import CyclexTestSupport
import Foundation
import Testing

/// `fixtures/images/pil_resize.safetensors`: Pillow 12.3 resizes, flips and tensor conversions.
/// Source images and target sizes come from the file's `config.sources` / `config.targets_wh`.
@Suite("PIL parity (fixtures/images/pil_resize)")
struct PILParityTests {
    func source(_ fixture: Fixture, _ name: String) throws -> Image {
        let (shape, values) = try fixture.uint8("src.\(name)")
        return Image(width: shape[1], height: shape[0], channels: shape[2], samples: values)
    }

    /// Every (source, filter, width, height) the configuration lists, as the tensor-name suffix
    /// `<source>.<filter>.w<W>h<H>`.
    func resizeCases(_ fixture: Fixture) throws -> [(source: String, filter: ResizeFilter, size: ImageSize, name: String)] {
        var cases: [(String, ResizeFilter, ImageSize, String)] = []
        for (source, targets) in try fixture.config["targets_wh"].entries() {
            for target in try targets.array() {
                let wh = try target.ints()
                for filter in [ResizeFilter.bicubic, .bilinear] {
                    cases.append((source, filter, ImageSize(width: wh[0], height: wh[1]),
                                  "\(source).\(filter.rawValue).w\(wh[0])h\(wh[1])"))
                }
            }
        }
        return cases
    }

    @Test("uint8 resize is bit-exact with PIL (bicubic and bilinear, shrink and enlarge)")
    func resize() throws {
        let fixture = try Fixture.load("images/pil_resize")
        let cases = try resizeCases(fixture)
        #expect(cases.count == fixture.names(withPrefix: "resize.").count, "every resize in the file is listed")
        for (sourceName, filter, size, name) in cases {
            let resized = try source(fixture, sourceName).resized(to: size, filter: filter)
            try fixture.expectMatch(resized.samples8!, shape: [resized.height, resized.width, resized.channels],
                                    "resize.\(name)")
        }
    }

    @Test("float resize matches PIL mode F")
    func resizeFloat() throws {
        let fixture = try Fixture.load("images/pil_resize")
        for (sourceName, filter, size, name) in try resizeCases(fixture) {
            let image = try source(fixture, sourceName)
            let actual = Resampler.resize(image.samples8!.map(Float.init), size: image.size, channels: image.channels,
                                          to: size, filter: filter)
            try fixture.expectMatch(actual.map(Double.init), shape: [size.height, size.width, image.channels],
                                    "resize_f.\(name)")
        }
    }

    @Test("flips, to_tensor, normalisation and the MNIST 28→32 path are exact")
    func conversions() throws {
        let fixture = try Fixture.load("images/pil_resize")
        let sources = try fixture.config["sources"].keys()
        #expect(!sources.isEmpty)
        for name in sources {
            let image = try source(fixture, name)
            let hwc = [image.height, image.width, image.channels], chw = [image.channels, image.height, image.width]
            try fixture.expectMatch(image.flippedHorizontally().samples8!, shape: hwc, "hflip.\(name)")
            try fixture.expectMatch(image.flippedVertically().samples8!, shape: hwc, "vflip.\(name)")
            let unit = try fixture.floats("to_tensor.\(name)")
            expectClose(image.chwScalars(range: .unit), shape: chw, unit.values, shape: unit.shape, tolerance: .exact,
                        "to_tensor.\(name)")
            let normalized = try fixture.floats("normalized.\(name)")
            expectClose(image.tensor(), normalized.values, shape: [1] + normalized.shape, tolerance: .exact,
                        "normalized.\(name)")
        }
        let mnistPaths = fixture.names(withPrefix: "mnist_path.")
        #expect(!mnistPaths.isEmpty)
        for name in mnistPaths {
            let gray = try source(fixture, name)
            try #require(gray.channels == 1, "the MNIST path starts from a gray image")
            let expected = try fixture.floats("mnist_path.\(name)")
            let side = expected.shape[2]
            let set = LabeledImageSet(height: gray.height, width: gray.width, pixels: gray.samples8!, labels: [3])
            expectClose(set.scalars(at: 0, side: side), shape: [1, side, side], expected.values, shape: expected.shape,
                        tolerance: .exact, "mnist_path.\(name)")
            #expect(set.batch([0, 0], side: side).shape == [2, 1, side, side])
        }
    }

    @Test("tensor → uint8 truncates ((x + 1) / 2 · 255) like tensor2im")
    func tensorToImage() throws {
        let fixture = try Fixture.load("images/pil_resize")
        let input = try fixture.floats("t2i.input")
        let image = try Image(tensor: Tensor(shape: input.shape, scalars: input.values))
        #expect(image.width == input.shape[2] && image.height == input.shape[1] && image.channels == 3)
        try fixture.expectMatch(image.samples8!, shape: [image.height, image.width, image.channels], "t2i.output")
        let batched = try Image(tensor: Tensor(shape: [1] + input.shape, scalars: input.values))
        #expect(batched == image)
    }
}
