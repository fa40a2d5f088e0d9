import ArgumentParser
import Foundation

/// Bounds of numeric flags, checked before anything runs so that no flag value can overflow an
/// allocation or a step count: a bad value is one line on stderr naming the flag, exit 64
/// (EX_USAGE), instead of a trap deep inside training.
enum FlagBounds {
    /// Training image side: multiples of 8 from 8 to this (a 4096² crop already needs gigabytes
    /// per activation on a CPU).
    static let maxTrainingSize = 4096
    static let maxEpochs = 100_000
    static let maxBatchSize = 1024
    /// Far beyond any run (a year at 30,000 steps/s), small enough for every step counter.
    static let maxSteps = 1_000_000_000_000
    /// One year.
    static let maxTimeLimit: Double = 365 * 24 * 3600
    /// Translation resize target and tile side.
    static let maxTranslateSide = 16384
}

/// A usage error: printed as one line `Error: <flag>: <problem>` and exit status 64, without
/// ArgumentParser's usage block (which would bury the line that matters).
struct UsageError: Error {
    init(_ message: String) {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
    }
}

extension UsageError {
    /// Throws `UsageError(message)` as exit status 64 unless `condition` holds.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition {
            _ = UsageError(message())
            throw ExitCode(64)
        }
    }
}
