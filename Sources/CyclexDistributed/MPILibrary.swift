import Foundation

/// Open MPI's C library, opened at run time with `dlopen` so that cyclex builds and runs without
/// MPI installed and one binary serves both cases (`docs/distributed.md#why-dlopen`).
///
/// Only Open MPI's ABI is supported (libmpi.so.40: Open MPI 3.0 to 5.x): its handles
/// (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, …) are the addresses of the exported objects
/// `ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`, …, and `MPI_IN_PLACE` is `(void *) 1`.
/// MPICH-family libraries use integer handles and are refused with a message.
final class MPILibrary {
    typealias Handle = UnsafeMutableRawPointer
    typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?, Int32,
                                           UnsafeMutablePointer<Int32>?) -> Int32
    typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    typealias Allgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle,
                                          Handle) -> Int32
    typealias Allgatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?,
                                           UnsafePointer<Int32>?, UnsafePointer<Int32>?, Handle, Handle) -> Int32
    typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    typealias Abort = @convention(c) (Handle, Int32) -> Int32
    typealias Finalize = @convention(c) () -> Int32
    typealias Barrier = @convention(c) (Handle) -> Int32
    typealias ErrorString = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int32>?) -> Int32

    /// `MPI_THREAD_FUNNELED`: only the thread that initialised MPI calls it (the training loop's).
    static let threadFunneled: Int32 = 1
    /// Open MPI's `MPI_IN_PLACE`.
    static var inPlace: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1)! }

    let path: String
    let commWorld: Handle, float: Handle, uint64: Handle, byte: Handle, sum: Handle
    let initThread: InitThread, commRank: CommQuery, commSize: CommQuery
    let allreduce: Allreduce, allgather: Allgather, allgatherv: Allgatherv, bcast: Bcast
    let abort: Abort, finalize: Finalize, errorString: ErrorString, barrier: Barrier

    /// Opens `CYCLEX_MPI_LIBRARY` when set, else `libmpi.so.40`, else `libmpi.so`.
    init() throws {
        let environment = ProcessInfo.processInfo.environment["CYCLEX_MPI_LIBRARY"]
        let candidates = environment.map { [$0] } ?? ["libmpi.so.40", "libmpi.so"]
        var library: UnsafeMutableRawPointer?
        var failures: [String] = []
        var opened = ""
        for name in candidates {
            // RTLD_GLOBAL: Open MPI's plugins, which it loads itself, resolve symbols of libmpi.
            if let handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL) { (library, opened) = (handle, name); break }
            failures.append(dlerror().map { String(cString: $0) } ?? name)
        }
        guard let library else {
            throw MPIError.unavailable(
                "cannot load the MPI library (\(failures.joined(separator: "; "))). Install Open MPI "
                    + "(Debian: apt-get install openmpi-bin libopenmpi-dev) or point CYCLEX_MPI_LIBRARY at its libmpi.so")
        }
        path = opened
        func symbol(_ name: String) throws -> Handle {
            guard let address = dlsym(library, name) else {
                let isOpenMPI = dlsym(library, "ompi_mpi_comm_world") != nil
                throw MPIError.unavailable(
                    isOpenMPI ? "\(opened) lacks \(name)"
                        : "\(opened) is not Open MPI (it has no ompi_mpi_comm_world); cyclex --mpi speaks Open MPI's ABI "
                            + "(libmpi.so.40, Open MPI 3.0-5.x) only: load that module or set CYCLEX_MPI_LIBRARY")
            }
            return address
        }
        func function<F>(_ name: String, _ type: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: type) }
        commWorld = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        uint64 = try symbol("ompi_mpi_uint64_t")
        byte = try symbol("ompi_mpi_byte")
        sum = try symbol("ompi_mpi_op_sum")
        initThread = try function("MPI_Init_thread", InitThread.self)
        commRank = try function("MPI_Comm_rank", CommQuery.self)
        commSize = try function("MPI_Comm_size", CommQuery.self)
        allreduce = try function("MPI_Allreduce", Allreduce.self)
        allgather = try function("MPI_Allgather", Allgather.self)
        allgatherv = try function("MPI_Allgatherv", Allgatherv.self)
        bcast = try function("MPI_Bcast", Bcast.self)
        abort = try function("MPI_Abort", Abort.self)
        finalize = try function("MPI_Finalize", Finalize.self)
        errorString = try function("MPI_Error_string", ErrorString.self)
        barrier = try function("MPI_Barrier", Barrier.self)
    }

    /// Throws unless `code` is `MPI_SUCCESS` (0). With MPI's default error handler a failed call
    /// aborts the job before returning; this covers handlers that return.
    func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        _ = errorString(code, &buffer, &length)
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        throw MPIError.failed(call: call, code: code, message: String(decoding: text, as: UTF8.self))
    }
}

/// MPI that cannot be used or a call that failed.
public enum MPIError: LocalizedError {
    case unavailable(String)
    case failed(call: String, code: Int32, message: String)

    public var errorDescription: String? {
        switch self {
        case let .unavailable(detail): return "--mpi: " + detail
        case let .failed(call, code, message): return "\(call) failed (error \(code)): \(message)"
        }
    }
}
