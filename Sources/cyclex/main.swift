import Foundation

// OpenBLAS worker threads spin after each call and steal the second core from our own
// parallel loops; a short timeout avoids that. Must be set before the first BLAS call.
setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0)
Cyclex.main()
