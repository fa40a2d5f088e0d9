import Foundation

/// An error already phrased for the user (printed as "Error: …", exit code 1).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command's work and turns any error into a `CLIError` with the error's own message
/// (errors of the libraries name the file or flag); a `CLIError` passes through unchanged.
func reportingErrors<T>(_ work: () throws -> T) throws -> T {
    do {
        return try work()
    } catch let error as CLIError {
        throw error
    } catch {
        throw CLIError(error.localizedDescription)
    }
}
