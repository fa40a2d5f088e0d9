import CyclexEngine
import CyclexImaging
import CyclexTestSupport
import Foundation
import Testing

/// `fixtures/images/pil_resize.safetensors`: Pillow 12.3 resizes, flips and tensor conversions.
@Suite("PIL parity (fixtures/images/pil_resize)", .enabled(if: Fixture.isAvailable, "\(Fixture.skipMessage)"))
struct PILParityTests {
    static let sources = ["rgb37x23", "rgb64x64", "gray28x28"]

    func fixture() throws -> Fixture { try #require(try Fixture.load("images/pil_resize")) }

    func source(_ fixture: Fixture, _ name: String) throws -> Image {
        let (shape, values) = try fixture.uint8("src.\(name)")
        return Image(width: shape[1], height: shape[0], channels: shape[2], samples: values)
    }

    @Test("uint8 resize is bit-exact with PIL (bicubic and bilinear, shrink and enlarge)")
    func resize() throws {
        let fixture = try fixture()
        var checked = 0
        for name in fixture.names(withPrefix: "resize.") {
            let parts = name.split(separator: ".")  // rgb37x23, bicubic, w32h32
            let filter = try #require(ResizeFilter(rawValue: String(parts[1])))
            let (shape, expected) = try fixture.uint8("resize.\(name)")
            let image = try source(fixture, String(parts[0]))
            let resized = image.resized(to: ImageSize(width: shape[1], height: shape[0]), filter: filter)
            let actual = resized.samples8!
            let mismatches = zip(actual, expected).enumerated().filter { $0.element.0 != $0.element.1 }
            #expect(resized.channels == shape[2] && actual.count == expected.count)
            #expect(mismatches.isEmpty, "\(name): \(mismatches.count) mismatches, first \(mismatches.prefix(3).map { "[\($0.offset)] \($0.element.0) vs \($0.element.1)" })")
            checked += 1
        }
        #expect(checked == 14)
    }

    @Test("float resize matches PIL mode F")
    func resizeFloat() throws {
        let fixture = try fixture()
        var worst: Float = 0
        for name in fixture.names(withPrefix: "resize_f.") {
            let parts = name.split(separator: ".")
            let filter = try #require(ResizeFilter(rawValue: String(parts[1])))
            let (shape, expected) = try fixture.floats("resize_f.\(name)")
            let image = try source(fixture, String(parts[0]))
            let actual = Resampler.resize(image.samples8!.map(Float.init), size: image.size, channels: image.channels,
                                          to: ImageSize(width: shape[1], height: shape[0]), filter: filter)
            #expect(actual.count == expected.count)
            for (a, e) in zip(actual, expected) { worst = max(worst, abs(a - e)) }
        }
        #expect(worst <= 1e-4, "max |diff| \(worst)")
    }

    @Test("flips, to_tensor, normalisation and the MNIST 28→32 path are exact")
    func conversions() throws {
        let fixture = try fixture()
        for name in Self.sources {
            let image = try source(fixture, name)
            #expect(image.flippedHorizontally().samples8! == (try fixture.uint8("hflip.\(name)").values), "hflip \(name)")
            #expect(image.flippedVertically().samples8! == (try fixture.uint8("vflip.\(name)").values), "vflip \(name)")
            let unit = try fixture.floats("to_tensor.\(name)")
            #expect(image.chwScalars(range: .unit) == unit.values, "to_tensor \(name)")
            let normalized = try fixture.floats("normalized.\(name)")
            let tensor = image.tensor()
            #expect(tensor.shape == [1] + normalized.shape)
            #expect(tensor.scalars == normalized.values, "normalized \(name)")
        }
        let gray = try source(fixture, "gray28x28")
        let set = LabeledImageSet(height: 28, width: 28, pixels: gray.samples8!, labels: [3])
        #expect(set.scalars(at: 0) == (try fixture.floats("mnist_path.gray28x28").values))
        #expect(set.batch([0, 0]).shape == [2, 1, 32, 32])
    }

    @Test("tensor → uint8 truncates ((x + 1) / 2 · 255) like tensor2im")
    func tensorToImage() throws {
        let fixture = try fixture()
        let input = try fixture.floats("t2i.input")
        let expected = try fixture.uint8("t2i.output")
        let image = try Image(tensor: Tensor(shape: input.shape, scalars: input.values))
        #expect(image.width == input.shape[2] && image.height == input.shape[1] && image.channels == 3)
        #expect(image.samples8! == expected.values)
        let batched = try Image(tensor: Tensor(shape: [1] + input.shape, scalars: input.values))
        #expect(batched == image)
    }
}
