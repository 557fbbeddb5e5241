/* OpenMP queries that also compile without OpenMP (the build then runs serially). */
#ifndef CONVT_THREADS_H
#define CONVT_THREADS_H

#ifdef _OPENMP
#include <omp.h>
static int convt_openmp_enabled(void) { return 1; }
static int convt_max_threads(void) { return omp_get_max_threads(); }
#else
static int convt_openmp_enabled(void) { return 0; }
static int convt_max_threads(void) { return 1; }
#endif

#endif
