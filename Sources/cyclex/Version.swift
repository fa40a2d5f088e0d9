/// The version `cyclex --version` prints. Raise it with changes users see (commands, flags,
/// checkpoint or log format).
enum CyclexVersion {
    static let string = "cyclex 0.2.0"
}
