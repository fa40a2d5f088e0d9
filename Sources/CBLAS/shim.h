#ifndef CYCLEX_CBLAS_SHIM_H
#define CYCLEX_CBLAS_SHIM_H
#include <cblas.h>

/* LAPACK symmetric eigen-solver (divide and conquer), exported by Debian's libopenblas.
   Declared by hand because Debian ships no lapacke.h with openblas; used for FID. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
#endif
