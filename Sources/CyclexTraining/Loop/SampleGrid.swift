import CyclexEngine
import CyclexInference
import CyclexImaging
import Foundation

/// Contact sheets of fixed probe images: for each row pattern the recipe declares (e.g.
/// real_A | fake_B | rec_A), one row per probe, patterns in order (A→B rows first, then B→A).
public enum SampleGrid {
    /// Writes the grid for `probesA` and `probesB` ([N, C, H, W] in [−1, 1]) to `url` as PNG,
    /// atomically.
    public static func write(model: any ModelRecipe, probesA: Tensor, probesB: Tensor, to url: URL) throws {
        let images = model.sampleImages(probesA: probesA, probesB: probesB)
        var rows: [[Tensor]] = []
        for pattern in model.declaration.sampleRows {
            let columns = pattern.map { name in
                guard let batch = images[name] else { preconditionFailure("sample image '\(name)' is not produced") }
                return batch
            }
            for i in 0..<columns[0].shape[0] { rows.append(columns.map { slice($0, i) }) }
        }
        try image(rows: rows).write(atomicallyTo: url, format: .png())
    }

    /// Writes what an explanation-guided recipe sees on the probes (`ProbeExplaining`), one row
    /// per probe for each of its row patterns, to `url` (its folder is created).
    public static func writeExplanations(_ model: any ProbeExplaining, probesA: Tensor, probesB: Tensor, to url: URL) throws {
        let (patterns, images) = model.probeExplanations(probesA: probesA, probesB: probesB)
        var rows: [[Tensor]] = []
        for pattern in patterns {
            let columns = pattern.map { images[$0]! }
            for i in 0..<columns[0].shape[0] { rows.append(columns.map { slice($0, i) }) }
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try image(rows: rows).write(atomicallyTo: url, format: .png())
    }

    static func slice(_ batch: Tensor, _ i: Int) -> Tensor {
        let per = batch.count / batch.shape[0]
        let t = Tensor(uninitializedShape: [1] + batch.shape.dropFirst())
        t.pointer.update(from: batch.pointer + i * per, count: per)
        return t
    }

    /// Tiles equally sized [1, C, H, W] tensors into one image with 2-pixel white gutters.
    static func image(rows: [[Tensor]]) -> Image {
        let c = rows[0][0].shape[1], h = rows[0][0].shape[2], w = rows[0][0].shape[3], gap = 2
        let columns = rows.map(\.count).max() ?? 1
        let height = rows.count * (h + gap) - gap, width = columns * (w + gap) - gap
        var scalars = [Float](repeating: 1, count: c * height * width)
        for (r, row) in rows.enumerated() {
            for (k, tile) in row.enumerated() {
                let p = tile.pointer
                for ch in 0..<c {
                    for y in 0..<h {
                        for x in 0..<w {
                            scalars[(ch * height + r * (h + gap) + y) * width + k * (w + gap) + x] = p[(ch * h + y) * w + x]
                        }
                    }
                }
            }
        }
        return Image(chwScalars: scalars, channels: c, height: height, width: width)
    }
}
