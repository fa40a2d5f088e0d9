import Foundation

// OpenBLAS runs single-threaded on the worker pool (Kernels/Parallel.swift); with
// CYCLEX_THREAD_POOL=0 it runs its own threads, which spin after each call and steal the second
// core from our parallel loops unless this short timeout is set before the first BLAS call.
setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0)
Cyclex.main()
