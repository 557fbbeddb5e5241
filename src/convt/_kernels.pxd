# C declarations of the engine (include/convt/): geometry, kernel table, task drivers.
from libc.stdint cimport int32_t, int64_t


cdef extern from "convt/tiers.h" nogil:
    ctypedef struct convt_geom:
        int64_t batch, cin, cout, groups, cig, cog
        int64_t in_shape[3]
        int64_t out_shape[3]
        int64_t stride[3]
        int64_t istride[3]
        int64_t in_size, out_size
        int64_t ckr
        int64_t kc, mc, nc
        int64_t kpanel
        int64_t nw
        int64_t nphases
        int64_t a_group_stride

    ctypedef struct convt_phase:
        int64_t ntaps
        int64_t residue[3]
        int64_t mcount[3]
        int64_t wcols
        int64_t a_offset
        const int64_t *delta
        const int64_t *kidx
        const int64_t *wlim
        const int64_t *xoff

    ctypedef struct convt_workspace:
        pass

    ctypedef struct convt_requant:
        int mode
        int32_t zy
        const float *mult
        const float *bias
        const float *rcp
        const int32_t *ibias

    ctypedef struct convt_epi:
        const float *bias
        const convt_requant *rq
        int32_t zx
        const int32_t *wsum
        int64_t wsum_cog

    ctypedef struct convt_gemm_kernel:
        const char *name
        int dtype, mr, kr, a_size, b_size, x_size, raw_activations

    ctypedef void (*convt_direct_fn)(int q8, const convt_geom *G, const convt_phase *phases,
                                     const void *w, int64_t ksize, const void *x,
                                     const convt_epi *E, void *out, const int64_t *task,
                                     void *acc, int64_t mtile) noexcept nogil

    ctypedef struct convt_tier:
        const char *name
        unsigned features
        const convt_gemm_kernel *f32
        const convt_gemm_kernel *q8
        const convt_gemm_kernel *q8_zw
        const convt_gemm_kernel *f32_alt
        const convt_gemm_kernel *q8_alt
        convt_direct_fn direct

    const convt_tier *convt_tiers[]
    const convt_gemm_kernel *convt_tier_kernel(const convt_tier *T, int kind, int64_t cog)
    int CONVT_NTIERS
    unsigned CONVT_F_AVX2, CONVT_F_AVX512, CONVT_F_AVX512VNNI, CONVT_F_AVXVNNI, CONVT_F_NEON
    unsigned convt_cpu_features()

    int64_t convt_workspace_bytes(int64_t kpanel, int64_t esize, int64_t nph, int64_t mc,
                                  int64_t nc)
    void convt_workspace_init(convt_workspace *ws, void *mem, int64_t kpanel, int64_t esize,
                              int64_t nph, int64_t mc, int64_t nc)
    void convt_gemm_task(const convt_gemm_kernel *V, const convt_geom *G,
                         const convt_phase *phases, const void *apack, const void *x,
                         const convt_epi *E, void *out, const int64_t *task,
                         convt_workspace *ws)
    void convt_pack_a(const convt_gemm_kernel *V, const void *w, const int32_t *zw,
                      const convt_geom *G, int64_t ksize, const convt_phase *phases,
                      void *apack, int32_t *wsum, int64_t wsum_cog)
    unsigned char convt_requant_one(const convt_requant *q, int64_t o, int32_t acc)

    int64_t convt_direct_scratch_floats(const convt_geom *G, int64_t mtile)


cdef extern from "convt/threads.h" nogil:
    int convt_openmp_enabled()
    int convt_max_threads()


cdef extern from "convt/split.h" nogil:
    void convt_split_w_rows(const void *x, void *xs, int64_t r0, int64_t r1, int64_t iw,
                            int64_t sw, const int64_t *res, int64_t ncomp, int64_t wq,
                            int esize)
