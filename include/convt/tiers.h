/* The kernel table: one row per ISA tier, best first.  A tier names the CPU features it
 * needs and the variant it runs for each job (float GEMM, int8 GEMM, int8 GEMM for weights
 * with a nonzero zero point, direct kernels).  Each tier's file (tiers/NAME.h) includes its
 * micro-kernels and instantiates the shared packing, epilogue and direct-kernel code under
 * its target attribute, so the compiler vectorises those for the tier too.
 *
 * Adding a tier: a micro-kernel file in kernels/, a file in tiers/, a row below.
 */
#ifndef CONVT_TIERS_H
#define CONVT_TIERS_H

#include "cpu.h"
#include "gemm.h"
#include "pack.h"
#include "epilogue.h"
#include "direct.h"

typedef struct {
    const char *name;
    unsigned features;                /* CONVT_F_* bits the CPU must have */
    const convt_gemm_kernel *f32;     /* float GEMM */
    const convt_gemm_kernel *q8;      /* int8 GEMM, weight zero points all 0 */
    const convt_gemm_kernel *q8_zw;   /* int8 GEMM, any weight zero points */
    const convt_gemm_kernel *f32_alt; /* NULL, or a variant with fewer rows for few channels */
    const convt_gemm_kernel *q8_alt;
    convt_direct_fn direct;           /* direct kernel (groups with <= 2 output channels) */
} convt_tier;

#define CONVT_PACK_ARGS const convt_geom *G, const convt_phase *P, const void *xg, int64_t ncol, \
                        int64_t nsl, void *panel, convt_workspace *ws, const convt_epi *E
#define CONVT_EPI_ARGS const convt_geom *G, const convt_phase *P0, int64_t nph, int64_t co_first, \
                       int64_t rows, int64_t ncol, int64_t nsl, const convt_epi *E, void *out,   \
                       const convt_workspace *ws

/* The shared packing, epilogue and direct-kernel code, compiled for one tier: functions
 * NAME_SFX; REQUANT16 is the tier's convt_requant16 (requant.h), F32RUNS its float sliver of
 * runs (pack.h), F32TERMS its float term flush, F32TERMS2 its two-row one (a function, or
 * NULL) and S32AXPY4 its four-term int8 axpy (direct.h). */
#define CONVT_INSTANTIATE_SHARED(SFX, TARGET, REQUANT16, F32RUNS, F32TERMS, F32TERMS2, S32AXPY4) \
    static TARGET void convt_pack_b_f32_##SFX(CONVT_PACK_ARGS)                                 \
    { convt_pack_b_f32_impl(G, P, xg, ncol, nsl, panel, ws, E, F32RUNS); }                      \
    static TARGET void convt_pack_b_s16_##SFX(CONVT_PACK_ARGS)                                 \
    { convt_pack_b_s16_impl(G, P, xg, ncol, nsl, panel, ws, E); }                               \
    static TARGET void convt_epilogue_f32_##SFX(CONVT_EPI_ARGS)                                \
    { convt_epilogue_f32_impl(G, P0, nph, co_first, rows, ncol, nsl, E, out, ws); }            \
    static TARGET void convt_epilogue_q8_##SFX(CONVT_EPI_ARGS)                                 \
    { convt_epilogue_q8_impl(G, P0, nph, co_first, rows, ncol, nsl, E, out, ws, REQUANT16); }  \
    static TARGET void convt_s32_axpy_##SFX(int32_t *CONVT_RESTRICT acc,                       \
                                            const uint8_t *CONVT_RESTRICT x, int32_t zx,       \
                                            int32_t w, int64_t n)                              \
    { convt_s32_axpy_impl(acc, x, zx, w, n); }                                                 \
    static TARGET void convt_f32_terms_##SFX(float *acc, const convt_direct_terms *T,          \
                                             int64_t m0, int64_t n, int init, int finish,      \
                                             float b)                                          \
    { F32TERMS(acc, T, m0, n, init, finish, b); }                                              \
    /* not inlined: inside the direct task GCC loses the pointers' restrict and leaves the   \
     * loop scalar */                                                                          \
    static CONVT_NOINLINE TARGET void convt_s32_axpy4_##SFX(int32_t *CONVT_RESTRICT acc,       \
                                             const uint8_t *const *x, int32_t zx,              \
                                             const int32_t *w, int64_t n)                      \
    { S32AXPY4(acc, x, zx, w, n); }                                                            \
    static TARGET void convt_direct_##SFX(int q8, const convt_geom *G,                         \
                                          const convt_phase *phases, const void *w,           \
                                          int64_t ksize, const void *x, const convt_epi *E,   \
                                          void *out, const int64_t *task, void *acc,          \
                                          int64_t mtile)                                       \
    {                                                                                          \
        if (q8)                                                                                \
            convt_direct_task_impl(1, G, phases, w, ksize, x, E, out, task, acc, mtile,        \
                                   convt_s32_axpy_##SFX, convt_f32_terms_##SFX, F32TERMS2,     \
                                   convt_s32_axpy4_##SFX, REQUANT16);                          \
        else                                                                                   \
            convt_direct_task_impl(0, G, phases, w, ksize, x, E, out, task, acc, mtile,        \
                                   convt_s32_axpy_##SFX, convt_f32_terms_##SFX, F32TERMS2,     \
                                   convt_s32_axpy4_##SFX, REQUANT16);                          \
    }

#define CONVT_INSTANTIATE_U8X4(SFX, TARGET)                                                    \
    static TARGET void convt_pack_b_u8x4_##SFX(CONVT_PACK_ARGS)                                \
    { convt_pack_b_u8x4_impl(G, P, xg, ncol, nsl, panel, ws, E); }

/* Variant rows: name, dtype, MR, KR, A/B/input element bytes, raw activations, kernel, pack,
 * epilogue */
#define CONVT_F32_VARIANT(NAME, MR, UKR, SFX) \
    { NAME, CONVT_DT_F32, MR, 1, 4, 4, 4, 0, UKR, convt_pack_b_f32_##SFX, convt_epilogue_f32_##SFX }
#define CONVT_S16_VARIANT(NAME, MR, UKR, SFX) \
    { NAME, CONVT_DT_Q8, MR, 2, 2, 2, 1, 0, UKR, convt_pack_b_s16_##SFX, convt_epilogue_q8_##SFX }
#define CONVT_U8S8_VARIANT(NAME, MR, UKR, SFX) \
    { NAME, CONVT_DT_Q8, MR, 4, 1, 1, 1, 1, UKR, convt_pack_b_u8x4_##SFX, convt_epilogue_q8_##SFX }

#include "tiers/portable.h"
#if CONVT_HAVE_X86_KERNELS
#include "tiers/avx2.h"
#include "tiers/avx512.h"
#include "tiers/avxvnni.h"
#include "tiers/avx512vnni.h"
#endif
#if CONVT_HAVE_NEON_KERNELS
#include "tiers/neon.h"
#endif

static const convt_tier *const convt_tiers[] = {
#if CONVT_HAVE_X86_KERNELS
    &convt_tier_avx512vnni,
    &convt_tier_avx512,
    &convt_tier_avxvnni,
    &convt_tier_avx2,
#endif
#if CONVT_HAVE_NEON_KERNELS
    &convt_tier_neon,
#endif
    &convt_tier_portable,
};
#define CONVT_NTIERS ((int)(sizeof convt_tiers / sizeof convt_tiers[0]))

/* The tier's variant for a job (0 float, 1 int8, 2 int8 with weight zero points) and cog
 * output channels per group: the main one unless its tiles would pad the channels by more
 * than 15 % beyond the alternative's (16 channels: 12-row tiles compute 24, 8-row ones 16). */
static const convt_gemm_kernel *convt_tier_kernel(const convt_tier *T, int kind, int64_t cog)
{
    const convt_gemm_kernel *k = kind == 0 ? T->f32 : kind == 1 ? T->q8 : T->q8_zw;
    const convt_gemm_kernel *alt = kind == 0 ? T->f32_alt : kind == 1 ? T->q8_alt : NULL;
    if (alt) {
        const int64_t rows = (cog + k->mr - 1) / k->mr * k->mr;
        const int64_t rows_alt = (cog + alt->mr - 1) / alt->mr * alt->mr;
        if (rows * 100 > rows_alt * 115) k = alt;
    }
    return k;
}

#endif
