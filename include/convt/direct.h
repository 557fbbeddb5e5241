/* Direct transposed convolution for groups with very few output channels (depthwise and
 * similar), where a GEMM would use one or two of the micro-kernel's rows.  Float and int8.
 *
 * Same phase decomposition as the GEMM path (geom.h), both directions: for one output row
 * (n, co, od, oh) and each W phase rw, acc[mw] = sum over taps t of the phase and input
 * channels ci of w * x[.., mw + delta_w], each (t, ci) a "term" valid over a range of mw;
 * float sums run term by term in that order from 0 (one FMA each), int8 sums are exact int32
 * of (x - zx) times the int16 weight w - zw.  A row's terms are gathered (up to
 * CONVT_DIRECT_TERMS at a time) and applied by the tier's flush: float with the sums of up to
 * 64 positions in registers (AVX-512: edges under masks, two rows of a stencil sharing
 * loads), int8 four terms per pass.  The W phase rows are then written into the output row
 * with the bias (float; stride-1 rows are summed in place) or requantized once (int8).  Every
 * output element is written once, and its sum never depends on where a task's range starts.
 */
#ifndef CONVT_DIRECT_H
#define CONVT_DIRECT_H

#include <stdint.h>
#include "geom.h"
#include "gemm.h"
#include "requant.h"

/* Pending terms of one accumulator row, at most this many (a flush keeps their weights and
 * pointers in stack arrays). */
#define CONVT_DIRECT_TERMS 16
/* W phases whose terms a direct task keeps from one row to the next */
#define CONVT_DIRECT_KEEP 4

/* Up to CONVT_DIRECT_TERMS pending (x, w) terms of one accumulator row with their valid
 * ranges [lo, hi) (W grid positions; x[m] is the input of position m).  Flushed so that every
 * position gets its terms in the order they were added: the result is that of one axpy per
 * term, however a flush groups them. */
typedef struct {
    const void *x[CONVT_DIRECT_TERMS];
    float wf[CONVT_DIRECT_TERMS];
    int32_t wi[CONVT_DIRECT_TERMS];
    int64_t lo[CONVT_DIRECT_TERMS], hi[CONVT_DIRECT_TERMS];
    int64_t L, H;  /* the range common to all terms, kept as they are added (reading lo[] and
                    * hi[] back as vectors right after their scalar stores stalls) */
    int n;
} convt_direct_terms;

typedef void (*convt_f32_axpy_fn)(float *acc, const float *x, float w, int64_t n);
typedef void (*convt_s32_axpy_fn)(int32_t *acc, const uint8_t *x, int32_t zx, int32_t w,
                                  int64_t n);
/* K axpys in one pass (K <= CONVT_DIRECT_TERMS), applied in order (x[0] with w[0] first):
 * each element gets exactly the operations of K consecutive axpys, with its sum held in a
 * register instead of loaded and stored K times. */
typedef void (*convt_f32_axpyk_fn)(float *acc, const float *const *x, const float *w, int K,
                                   int64_t n);
/* Every term of T over its own range, float: acc holds W positions m0 .. m0+n-1; with init
 * their sums start from 0 instead of acc's values, with finish b is added to them last (in
 * registers: reading back a row just stored under masks would stall). tiers.h picks the
 * tier's. */
typedef void (*convt_f32_terms_fn)(float *acc, const convt_direct_terms *T, int64_t m0,
                                   int64_t n, int init, int finish, float b);
/* Two output rows of one kept term list, from 0: acc0 with T's terms, acc1 with the same terms
 * `step` input elements on (the next row), where row 1's term i - c reads what row 0's term i
 * does (c = the terms of one kernel row for a stencil: the loads are shared).  Each row's
 * sums are those of f32_terms with init.  NULL in a tier: f32_terms twice. */
typedef void (*convt_f32_terms2_fn)(float *acc0, float *acc1, const convt_direct_terms *T,
                                    int64_t step, int c, int64_t m0, int64_t n, int finish,
                                    float b);
/* Four at once, int8 (the sum is exact, so grouping never changes it). */
typedef void (*convt_s32_axpy4_fn)(int32_t *acc, const uint8_t *const *x, int32_t zx,
                                   const int32_t *w, int64_t n);

/* acc[i] += w * x[i] (product and sum rounded separately): instantiated by the tiers without
 * FMA (tiers.h); x86 tiers use convt_f32_axpy_fma_impl. */
static CONVT_ALWAYS_INLINE void convt_f32_axpy_impl(float *CONVT_RESTRICT acc,
                                                    const float *CONVT_RESTRICT x, float w,
                                                    int64_t n)
{
    for (int64_t i = 0; i < n; ++i) acc[i] += w * x[i];
}

static CONVT_ALWAYS_INLINE void convt_f32_axpyk_impl(float *CONVT_RESTRICT acc,
                                                     const float *const *x, const float *w,
                                                     int K, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        float a = acc[i];
        for (int k = 0; k < K; ++k) a += w[k] * x[k][i];
        acc[i] = a;
    }
}

#if CONVT_HAVE_X86_KERNELS
/* The same with one rounding (FMA), 8 lanes at a time; inlined into AVX2-or-better tiers.
 * The tail is a scalar FMA too: an element rounds the same whether a W tile puts it in the
 * vector body or the tail, so results never depend on where a tile starts. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_axpy_fma_impl(float *CONVT_RESTRICT acc, const float *CONVT_RESTRICT x, float w,
                        int64_t n)
{
    const __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i),
                                                  _mm256_loadu_ps(acc + i)));
    for (; i < n; ++i)
        acc[i] = _mm_cvtss_f32(_mm_fmadd_ss(_mm256_castps256_ps128(wv), _mm_set_ss(x[i]),
                                            _mm_set_ss(acc[i])));
}

/* K terms, four vectors of acc in registers at a time. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_axpyk_fma_impl(float *CONVT_RESTRICT acc, const float *const *x, const float *w,
                         int K, int64_t n)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 a0 = _mm256_loadu_ps(acc + i), a1 = _mm256_loadu_ps(acc + i + 8);
        __m256 a2 = _mm256_loadu_ps(acc + i + 16), a3 = _mm256_loadu_ps(acc + i + 24);
        for (int k = 0; k < K; ++k) {
            const __m256 wk = _mm256_set1_ps(w[k]);
            const float *xk = x[k] + i;
            a0 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(xk), a0);
            a1 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(xk + 8), a1);
            a2 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(xk + 16), a2);
            a3 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(xk + 24), a3);
        }
        _mm256_storeu_ps(acc + i, a0);
        _mm256_storeu_ps(acc + i + 8, a1);
        _mm256_storeu_ps(acc + i + 16, a2);
        _mm256_storeu_ps(acc + i + 24, a3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(acc + i);
        for (int k = 0; k < K; ++k)
            a = _mm256_fmadd_ps(_mm256_set1_ps(w[k]), _mm256_loadu_ps(x[k] + i), a);
        _mm256_storeu_ps(acc + i, a);
    }
    for (; i < n; ++i) {
        __m128 a = _mm_set_ss(acc[i]);
        for (int k = 0; k < K; ++k)
            a = _mm_fmadd_ss(_mm_set_ss(w[k]), _mm_set_ss(x[k][i]), a);
        acc[i] = _mm_cvtss_f32(a);
    }
}

/* Lanes [lo, hi) of a 16-lane vector (lo, hi relative to its first lane, any values). */
static CONVT_ALWAYS_INLINE __mmask16 convt_lanes16(int64_t lo, int64_t hi)
{
    const unsigned h = hi <= 0 ? 0u : hi >= 16 ? 0xffffu : (1u << hi) - 1;
    const unsigned l = lo <= 0 ? 0u : lo >= 16 ? 0xffffu : (1u << lo) - 1;
    return (__mmask16)(h & ~l);
}

/* NV whole vectors at p of R rows (1 or 2) where every term is valid, their sums in
 * registers (inside convt_f32_fast_avx512; the loops over them unroll).  Row 1 has row 0's
 * terms with the input `step` elements on; where its term i - c reads what row 0's term i
 * reads (the next output row of a stencil, c taps later), one load serves both. */
#define CONVT_F32_FAST_BLOCK(NV)                                                               \
    do {                                                                                       \
        __m512 r0[NV], r1[NV];                                                                 \
        for (int j = 0; j < NV; ++j) {                                                         \
            r0[j] = init ? _mm512_setzero_ps() : _mm512_loadu_ps(acc0 + p + 16 * j);           \
            if (R == 2) r1[j] = _mm512_setzero_ps();                                           \
        }                                                                                      \
        for (int i = 0; i < K + (R == 2 ? c : 0); ++i) {                                       \
            const float *xi = i < K ? (const float *)T->x[i] + m0 + p                          \
                                    : (const float *)T->x[i - c] + step + m0 + p;              \
            __m512 v[NV];                                                                      \
            for (int j = 0; j < NV; ++j) v[j] = _mm512_loadu_ps(xi + 16 * j);                  \
            if (i < K) {                                                                       \
                const __m512 wi = _mm512_set1_ps(T->wf[i]);                                    \
                for (int j = 0; j < NV; ++j) r0[j] = _mm512_fmadd_ps(wi, v[j], r0[j]);         \
            }                                                                                  \
            if (R == 2 && i >= c) {                                                            \
                const __m512 wi = _mm512_set1_ps(T->wf[i - c]);                                \
                for (int j = 0; j < NV; ++j) r1[j] = _mm512_fmadd_ps(wi, v[j], r1[j]);         \
            }                                                                                  \
        }                                                                                      \
        for (int j = 0; j < NV; ++j) {                                                         \
            _mm512_storeu_ps(acc0 + p + 16 * j, finish ? _mm512_add_ps(r0[j], bv) : r0[j]);    \
            if (R == 2)                                                                        \
                _mm512_storeu_ps(acc1 + p + 16 * j, finish ? _mm512_add_ps(r1[j], bv) : r1[j]); \
        }                                                                                      \
    } while (0)

/* The whole vectors [hs, fe) of R rows (see CONVT_F32_FAST_BLOCK; row 1 always starts from
 * 0), 64, 32 or 16 positions at a time. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_f32_fast_avx512(const int R, float *CONVT_RESTRICT acc0, float *CONVT_RESTRICT acc1,
                      const convt_direct_terms *T, int64_t m0, int64_t hs, int64_t fe, int c,
                      int64_t step, int init, int finish, __m512 bv)
{
    const int K = T->n;
    for (int64_t p = hs; p < fe;) {
        if (fe - p >= 64) {
            CONVT_F32_FAST_BLOCK(4);
            p += 64;
        } else if (fe - p >= 32) {
            CONVT_F32_FAST_BLOCK(2);
            p += 32;
        } else {
            CONVT_F32_FAST_BLOCK(1);
            p += 16;
        }
    }
}
#undef CONVT_F32_FAST_BLOCK

/* The rest of a row: the vectors before hs and from fe on, each term's lanes outside its
 * range masked off (they keep their sum: not even a 0 is added, whose sign or a non-finite
 * weight could change it); the input xs elements on from T's.  Two vectors at a time: the
 * head's and the tail's sums are two independent chains of K dependent FMAs. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_f32_masked_avx512(float *CONVT_RESTRICT acc, const convt_direct_terms *T, int64_t m0,
                        int64_t n, int64_t hs, int64_t fe, int64_t xs, int init, int finish,
                        __m512 bv)
{
    const int K = T->n;
    /* a masked vector at p ends at end(p), the next one starts at next(p); -1: none */
#define CONVT_MV_END(p) ((p) < hs ? ((p) + 16 < hs ? (p) + 16 : hs) : ((p) + 16 < n ? (p) + 16 : n))
#define CONVT_MV_NEXT(p) ((p) < 0 ? -1 : CONVT_MV_END(p) < hs ? CONVT_MV_END(p)                     \
                          : (p) < hs ? (fe < n ? fe : -1) : CONVT_MV_END(p) < n ? CONVT_MV_END(p) : -1)
    for (int64_t pa = hs > 0 ? 0 : fe < n ? fe : -1, pb; pa >= 0; pa = CONVT_MV_NEXT(pb)) {
        pb = CONVT_MV_NEXT(pa);
        const int64_t ea = CONVT_MV_END(pa) - pa, qb = pb < 0 ? pa : pb;
        const int64_t eb = pb < 0 ? 0 : CONVT_MV_END(pb) - pb;
        const __mmask16 alla = convt_lanes16(0, ea), allb = convt_lanes16(0, eb);
        float *a = acc + pa, *c = acc + qb;
        __m512 sa = init ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(alla, a);
        __m512 sb = init ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(allb, c);
        for (int k = 0; k < K; ++k) {
            const int64_t l = T->lo[k] - m0, h = T->hi[k] - m0;
            const __m512 wk = _mm512_set1_ps(T->wf[k]);
            const float *xk = (const float *)T->x[k] + m0 + xs;
            const __mmask16 ma = l <= pa && h >= pa + ea ? alla
                                 : alla & convt_lanes16(l - pa, h - pa);
            const __mmask16 mb = l <= qb && h >= qb + eb ? allb
                                 : allb & convt_lanes16(l - qb, h - qb);
            sa = _mm512_mask3_fmadd_ps(wk, _mm512_maskz_loadu_ps(ma, xk + pa), sa, ma);
            sb = _mm512_mask3_fmadd_ps(wk, _mm512_maskz_loadu_ps(mb, xk + qb), sb, mb);
        }
        if (finish) sa = _mm512_add_ps(sa, bv), sb = _mm512_add_ps(sb, bv);
        _mm512_mask_storeu_ps(a, alla, sa);
        _mm512_mask_storeu_ps(c, allb, sb);
    }
#undef CONVT_MV_END
#undef CONVT_MV_NEXT
}

/* [hs, fe): the whole vectors with every term valid, from the first multiple of 16 at or
 * after the common range's start. */
#define CONVT_F32_FAST_RANGE(T, m0, n)                                                          \
    const int64_t L = (T)->L - (m0), H = (T)->H - (m0);                                        \
    const int64_t hs = L <= 0 ? 0 : (L + 15) / 16 * 16 < (n) ? (L + 15) / 16 * 16 : (n);       \
    const int64_t fe = H > hs ? hs + (H - hs) / 16 * 16 : hs

/* Every term over its range, the sums of up to 64 positions in registers. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_f32_terms_avx512_impl(float *CONVT_RESTRICT acc, const convt_direct_terms *T, int64_t m0,
                            int64_t n, int init, int finish, float b)
{
    const __m512 bv = _mm512_set1_ps(b);
    CONVT_F32_FAST_RANGE(T, m0, n);
    convt_f32_fast_avx512(1, acc, NULL, T, m0, hs, fe, 0, 0, init, finish, bv);
    convt_f32_masked_avx512(acc, T, m0, n, hs, fe, 0, init, finish, bv);
}

/* Two rows from 0: acc0 with T's terms, acc1 with the same terms `step` input elements on,
 * whose term i - c reads row 0's term i (see convt_f32_terms2_fn). */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_f32_terms2_avx512_impl(float *acc0, float *acc1, const convt_direct_terms *T,
                             int64_t step, int c, int64_t m0, int64_t n, int finish, float b)
{
    const __m512 bv = _mm512_set1_ps(b);
    CONVT_F32_FAST_RANGE(T, m0, n);
    convt_f32_fast_avx512(2, acc0, acc1, T, m0, hs, fe, c, step, 1, finish, bv);
    convt_f32_masked_avx512(acc0, T, m0, n, hs, fe, 0, 1, finish, bv);
    convt_f32_masked_avx512(acc1, T, m0, n, hs, fe, step, 1, finish, bv);
}
#undef CONVT_F32_FAST_RANGE
#endif

/* acc[i] += w * (x[i] - zx), wrapping like every int32 accumulator (unsigned arithmetic);
 * instantiated per tier (tiers.h). */
static CONVT_ALWAYS_INLINE void convt_s32_axpy_impl(int32_t *CONVT_RESTRICT acc,
                                                    const uint8_t *CONVT_RESTRICT x, int32_t zx,
                                                    int32_t w, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)  /* as in convt_s32_axpy4_impl */
        for (int j = 0; j < 16; ++j)
            acc[i + j] = (int32_t)((uint32_t)acc[i + j] + (uint32_t)(w * ((int32_t)x[i + j] - zx)));
    for (; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + (uint32_t)(w * ((int32_t)x[i] - zx)));
}

static CONVT_ALWAYS_INLINE void convt_s32_axpy4_impl(int32_t *CONVT_RESTRICT acc,
                                                     const uint8_t *const *x, int32_t zx,
                                                     const int32_t *w, int64_t n)
{
    const uint8_t *CONVT_RESTRICT x0 = x[0], *CONVT_RESTRICT x1 = x[1];
    const uint8_t *CONVT_RESTRICT x2 = x[2], *CONVT_RESTRICT x3 = x[3];
    /* weights in locals: read through w inside the loop they could alias acc, and the loop
     * would not vectorise */
    const uint32_t w0 = (uint32_t)w[0], w1 = (uint32_t)w[1], w2 = (uint32_t)w[2];
    const uint32_t w3 = (uint32_t)w[3];
    const uint32_t c = 0u - (uint32_t)zx * (w0 + w1 + w2 + w3);
    int64_t i = 0;
    /* blocks of 16: one vector of int32 lanes (left to itself GCC vectorises 64 at a time and
     * leaves up to 63 elements, half of a typical row, to a scalar loop) */
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j)
            acc[i + j] = (int32_t)((uint32_t)acc[i + j] + c + w0 * x0[i + j] + w1 * x1[i + j] +
                                   w2 * x2[i + j] + w3 * x3[i + j]);
    for (; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + c + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] +
                           w3 * x3[i]);
}

#if CONVT_HAVE_X86_KERNELS
/* The same on AVX2 with vpmaddwd: x and w as int16 pairs (x <= 255, |w| <= 255), each pair's
 * products summed exactly in int32: the same int32 as the scalar loop, 16 lanes a step. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_s32_axpy4_avx2_impl(int32_t *CONVT_RESTRICT acc, const uint8_t *const *x, int32_t zx,
                          const int32_t *w, int64_t n)
{
    const uint8_t *CONVT_RESTRICT x0 = x[0], *CONVT_RESTRICT x1 = x[1];
    const uint8_t *CONVT_RESTRICT x2 = x[2], *CONVT_RESTRICT x3 = x[3];
    const uint32_t w0 = (uint32_t)w[0], w1 = (uint32_t)w[1], w2 = (uint32_t)w[2];
    const uint32_t w3 = (uint32_t)w[3];
    const uint32_t c = 0u - (uint32_t)zx * (w0 + w1 + w2 + w3);
    const __m256i w01 = _mm256_set1_epi32((int32_t)((w0 & 0xffffu) | (w1 << 16)));
    const __m256i w23 = _mm256_set1_epi32((int32_t)((w2 & 0xffffu) | (w3 << 16)));
    const __m256i cv = _mm256_set1_epi32((int32_t)c);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i a0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x0 + i)));
        const __m256i a1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x1 + i)));
        const __m256i a2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x2 + i)));
        const __m256i a3 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x3 + i)));
        /* unpack within 128-bit lanes: lo holds elements 0-3 and 8-11, hi 4-7 and 12-15 */
        const __m256i lo = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(a0, a1), w01),
                                            _mm256_madd_epi16(_mm256_unpacklo_epi16(a2, a3), w23));
        const __m256i hi = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(a0, a1), w01),
                                            _mm256_madd_epi16(_mm256_unpackhi_epi16(a2, a3), w23));
        __m256i *p = (__m256i *)(acc + i);
        _mm256_storeu_si256(p, _mm256_add_epi32(_mm256_loadu_si256(p), _mm256_add_epi32(
                                   cv, _mm256_permute2x128_si256(lo, hi, 0x20))));
        _mm256_storeu_si256(p + 1, _mm256_add_epi32(_mm256_loadu_si256(p + 1), _mm256_add_epi32(
                                       cv, _mm256_permute2x128_si256(lo, hi, 0x31))));
    }
    for (; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + c + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] +
                           w3 * x3[i]);
}
#endif

/* Term k of T over W positions [lo, hi) (nothing when empty). */
static CONVT_ALWAYS_INLINE void
convt_direct_term(const int q8, const convt_direct_terms *T, int k, int64_t lo, int64_t hi,
                  char *acc, int64_t m0, int32_t zx, convt_f32_axpy_fn f32_axpy,
                  convt_s32_axpy_fn s32_axpy)
{
    if (lo >= hi) return;
    if (q8)
        s32_axpy((int32_t *)acc + (lo - m0), (const uint8_t *)T->x[k] + lo, zx, T->wi[k],
                 hi - lo);
    else
        f32_axpy((float *)acc + (lo - m0), (const float *)T->x[k] + lo, T->wf[k], hi - lo);
}

/* Every float term over its range: before and after the common range one by one, inside it
 * all at once with AXPYK (the tiers without AVX-512). */
static CONVT_ALWAYS_INLINE void
convt_f32_terms_split_impl(float *acc, const convt_direct_terms *T, int64_t m0, int64_t n,
                           int init, int finish, float b, convt_f32_axpy_fn f32_axpy,
                           convt_f32_axpyk_fn f32_axpyk)
{
    if (init) memset(acc, 0, n * 4);
    const int64_t L = T->L, H = T->H;
    for (int k = 0; k < T->n; ++k)
        convt_direct_term(0, T, k, T->lo[k], L < H && T->hi[k] > L ? L : T->hi[k], (char *)acc,
                          m0, 0, f32_axpy, NULL);
    if (L < H) {
        const float *xs[CONVT_DIRECT_TERMS];
        for (int k = 0; k < T->n; ++k) xs[k] = (const float *)T->x[k] + L;
        f32_axpyk(acc + (L - m0), xs, T->wf, T->n, H - L);
        for (int k = 0; k < T->n; ++k)
            convt_direct_term(0, T, k, H, T->hi[k], (char *)acc, m0, 0, f32_axpy, NULL);
    }
    if (finish)
        for (int64_t i = 0; i < n; ++i) acc[i] += b;
}

static CONVT_ALWAYS_INLINE void convt_f32_terms_plain_impl(float *acc,
                                                           const convt_direct_terms *T,
                                                           int64_t m0, int64_t n, int init,
                                                           int finish, float b)
{
    convt_f32_terms_split_impl(acc, T, m0, n, init, finish, b, convt_f32_axpy_impl, convt_f32_axpyk_impl);
}

#if CONVT_HAVE_X86_KERNELS
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_terms_fma_impl(float *acc, const convt_direct_terms *T, int64_t m0, int64_t n,
                         int init, int finish, float b)
{
    convt_f32_terms_split_impl(acc, T, m0, n, init, finish, b, convt_f32_axpy_fma_impl, convt_f32_axpyk_fma_impl);
}
#endif

/* Kept float terms moved to the next row: every input pointer `step` elements on. */
static CONVT_ALWAYS_INLINE void convt_terms_advance(convt_direct_terms *T, int64_t step)
{
    for (int k = 0; k < T->n; ++k) T->x[k] = (const float *)T->x[k] + step;
}

/* The least c with T's term i + c reading `step` elements after term i for every i (the
 * next output row's term i reads what this row's term i + c does); T->n when there is none. */
static int convt_next_row_shift(const convt_direct_terms *T, int64_t step)
{
    for (int c = 1; c < T->n; ++c) {
        int k = 0;
        while (k + c < T->n && (const float *)T->x[k + c] == (const float *)T->x[k] + step) ++k;
        if (k + c == T->n) return c;
    }
    return T->n;
}

static CONVT_ALWAYS_INLINE void
convt_direct_flush(const int q8, convt_direct_terms *T, char *acc, int64_t m0, int64_t n,
                   int init, int finish, float b, int32_t zx, convt_s32_axpy_fn s32_axpy,
                   convt_f32_terms_fn f32_terms, convt_s32_axpy4_fn s32_axpy4)
{
    if (!q8) {
        f32_terms((float *)acc, T, m0, n, init, finish, b);
        T->n = 0;
        return;
    }
    /* int8: one by one outside the common range, four at a time inside */
    const int64_t L = T->L, H = T->H;
    const int common = L < H;
    for (int k = 0; k < T->n; ++k)
        convt_direct_term(1, T, k, T->lo[k], common && T->hi[k] > L ? L : T->hi[k], acc, m0,
                          zx, NULL, s32_axpy);
    if (common) {
        const uint8_t *xs[4];
        int k = 0;
        for (; k + 4 <= T->n; k += 4) {
            for (int j = 0; j < 4; ++j) xs[j] = (const uint8_t *)T->x[k + j] + L;
            s32_axpy4((int32_t *)acc + (L - m0), xs, zx, T->wi + k, H - L);
        }
        for (; k < T->n; ++k) convt_direct_term(1, T, k, L, H, acc, m0, zx, NULL, s32_axpy);
        for (int k = 0; k < T->n; ++k)  /* after the common range */
            convt_direct_term(1, T, k, H, T->hi[k], acc, m0, zx, NULL, s32_axpy);
    }
    T->n = 0;
}

/* Direct tasks: (n, co, p0, row0, row1, m0, m1): W group p0 .. p0+nw-1 (same rd, rh), rows
 * of its (md, mh) grid, W grid positions m0 .. m1-1 (at most ``mtile`` of them: the scratch
 * stays bounded however long a row is, and a single long row splits across threads). */
enum { CONVT_D_N, CONVT_D_CO, CONVT_D_PHASE, CONVT_D_ROW0, CONVT_D_ROW1, CONVT_D_M0, CONVT_D_M1,
       CONVT_D_FIELDS };

/* 4-byte elements of per-thread scratch: one accumulator row of mtile per W phase. */
static int64_t convt_direct_scratch_floats(const convt_geom *G, int64_t mtile)
{
    return G->nw * mtile + 16;
}

/* A tier's direct task (tiers.h instantiates convt_direct_task_impl per tier). */
typedef void (*convt_direct_fn)(int q8, const convt_geom *G, const convt_phase *phases,
                                const void *w, int64_t ksize, const void *x,
                                const convt_epi *E, void *out, const int64_t *task, void *acc,
                                int64_t mtile);

/* One direct task.  Float: x, w, out float32, E->bias; int8: x, out uint8, w the int16
 * weights w - zw, E->zx and E->rq.  acc: convt_direct_scratch_floats(G, mtile) elements.
 * Always inlined with a constant q8 and the tier's axpys and requantization (tiers.h), so
 * each dtype and tier gets its own loop.  Each element's sum runs over the same taps in the same order wherever the task's
 * W range starts, so results do not depend on the tiling. */
static CONVT_ALWAYS_INLINE void
convt_direct_task_impl(const int q8, const convt_geom *G, const convt_phase *phases,
                       const void *w, int64_t ksize, const void *x, const convt_epi *E,
                       void *out, const int64_t *task, void *acc, int64_t mtile,
                       convt_s32_axpy_fn s32_axpy, convt_f32_terms_fn f32_terms,
                       convt_f32_terms2_fn f32_terms2, convt_s32_axpy4_fn s32_axpy4,
                       convt_requant16_fn requant16)
{
    const int64_t n = task[CONVT_D_N], co = task[CONVT_D_CO];
    const convt_phase *P0 = phases + task[CONVT_D_PHASE];
    const int64_t cig = G->cig, cog = G->cog, g = co / cog, cl = co - g * cog, nw = G->nw;
    const int64_t sd = G->stride[0], sh = G->stride[1], sw = G->stride[2];
    const int64_t isd = G->istride[0], ish = G->istride[1];
    const int64_t ID = G->in_shape[0], IH = G->in_shape[1], IW = G->in_shape[2];
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];
    const int64_t Mh = P0->mcount[1], m0 = task[CONVT_D_M0], m1 = task[CONVT_D_M1];
    const int64_t esize = q8 ? 1 : 4;  /* bytes of an input / output element */
    const int64_t xoff = (n * G->cin + g * cig) * G->in_size, woff = (g * cig * cog + cl) * ksize;
    const int64_t ooff = (n * G->cout + co) * G->out_size;
    const float b = (!q8 && E->bias) ? E->bias[co] : 0.0f;

    /* Float rows whose terms all fit one flush and whose every tap is valid are kept: the
     * next row of the same (md, phase) has the same terms with the input one step further
     * along H, whenever its taps are all valid too (then only their pointers move). */
    convt_direct_terms kept[CONVT_DIRECT_KEEP];
    int64_t kept_row[CONVT_DIRECT_KEEP], hmax[CONVT_DIRECT_KEEP];
    int kept_c[CONVT_DIRECT_KEEP];
    const int keep = !q8 && nw <= CONVT_DIRECT_KEEP;
    for (int64_t i = 0; keep && i < nw; ++i) {
        /* -1: never (more terms than one flush takes); -2: nothing kept yet */
        kept_row[i] = P0[i].ntaps * cig <= CONVT_DIRECT_TERMS ? -2 : -1;
        hmax[i] = INT64_MIN;
        for (int64_t t = 0; t < P0[i].ntaps; ++t)
            hmax[i] = P0[i].delta[3 * t + 1] > hmax[i] ? P0[i].delta[3 * t + 1] : hmax[i];
    }
    /* a float row of stride 1 along W is summed in place in the output row */
    const int in_place = !q8 && sw == 1;

    for (int64_t row = task[CONVT_D_ROW0]; row < task[CONVT_D_ROW1]; ++row) {
        const int64_t md = row / Mh, mh = row - md * Mh;
        const int64_t od = P0->residue[0] + sd * md, oh = P0->residue[1] + sh * mh;
        char *orow = (char *)out + (ooff + (od * OH + oh) * OW) * esize;
        for (int64_t i = 0; i < nw; ++i) {
            const convt_phase *P = P0 + i;
            /* this phase's positions m0 .. mend-1, at acc row offsets 0 .. mend-m0-1 */
            const int64_t mend = P->mcount[2] < m1 ? P->mcount[2] : m1;
            if (mend <= m0) continue;
            char *a = in_place ? orow + m0 * 4 : (char *)acc + i * mtile * 4;
            if (keep && kept_row[i] >= 0 && kept_row[i] == row - 1 && mh > 0 &&
                mh * ish + hmax[i] < IH) {
                convt_direct_terms *K = &kept[i];
                const int64_t step = ish * IW;
                convt_terms_advance(K, step);
                kept_row[i] = row;
                /* the next row too, in place, when it is this task's and its taps are valid */
                if (in_place && nw == 1 && row + 1 < task[CONVT_D_ROW1] && mh + 1 < Mh &&
                    (mh + 1) * ish + hmax[i] < IH) {
                    float *a1 = (float *)(orow + sh * OW * 4) + m0;
                    if (f32_terms2) {
                        f32_terms2((float *)a, a1, K, step, kept_c[i], m0, mend - m0, 1, b);
                        convt_terms_advance(K, step);
                    } else {
                        f32_terms((float *)a, K, m0, mend - m0, 1, 1, b);
                        convt_terms_advance(K, step);
                        f32_terms(a1, K, m0, mend - m0, 1, 1, b);
                    }
                    kept_row[i] = ++row;
                    continue;
                }
                f32_terms((float *)a, K, m0, mend - m0, 1, in_place, b);
                continue;
            }
            convt_direct_terms T;
            T.n = 0;
            T.L = mend, T.H = m0;  /* no common range while there are no terms */
            int flushed = 0, valid = 0;
            if (q8) memset(a, 0, (mend - m0) * 4);  /* int8 flushes add to 0 */
            for (int64_t t = 0; t < P->ntaps; ++t) {
                const int64_t *dl = P->delta + 3 * t;
                const int64_t id = md * isd + dl[0], ih = mh * ish + dl[1], wlim = P->wlim[t];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) continue;
                /* m with 0 <= m + dl[2] < wlim */
                const int64_t lo = m0 > -dl[2] ? m0 : -dl[2];
                const int64_t hi = mend < wlim - dl[2] ? mend : wlim - dl[2];
                if (lo >= hi) continue;
                ++valid;
                /* input of W position m of this tap: x[xr + m] */
                const int64_t xr = xoff + (id * IH + ih) * IW + P->xoff[t] + dl[2];
                for (int64_t ci = 0; ci < cig; ++ci) {
                    const int64_t wi = woff + ci * cog * ksize + P->kidx[t];
                    const int64_t xi = xr + ci * G->in_size;
                    if (T.n == CONVT_DIRECT_TERMS) {  /* full: flush before adding */
                        convt_direct_flush(q8, &T, a, m0, mend - m0, !flushed, 0, b, E->zx,
                                           s32_axpy, f32_terms, s32_axpy4);
                        flushed = 1;
                    }
                    const int k = T.n++;
                    if (q8) {
                        T.x[k] = (const uint8_t *)x + xi;
                        T.wi[k] = ((const int16_t *)w)[wi];
                    } else {
                        T.x[k] = (const float *)x + xi;
                        T.wf[k] = ((const float *)w)[wi];
                    }
                    T.lo[k] = lo;
                    T.hi[k] = hi;
                    T.L = k == 0 || lo > T.L ? lo : T.L;
                    T.H = k == 0 || hi < T.H ? hi : T.H;
                }
            }
            if (keep && kept_row[i] != -1 && valid == P->ntaps) {
                kept[i] = T, kept_row[i] = row;
                kept_c[i] = convt_next_row_shift(&T, ish * IW);
            }
            if (T.n || (!q8 && !flushed))  /* float: a row without terms is 0 */
                convt_direct_flush(q8, &T, a, m0, mend - m0, !flushed, in_place, b, E->zx,
                                   s32_axpy, f32_terms, s32_axpy4);
        }
        if (q8) {  /* requantize each phase row, 16 at a time, then place it */
            uint8_t tmp[16], *o8 = (uint8_t *)orow;
            for (int64_t i = 0; i < nw; ++i) {
                const int64_t n_m = (P0[i].mcount[2] < m1 ? P0[i].mcount[2] : m1) - m0;
                const int32_t *a = (const int32_t *)acc + i * mtile;
                uint8_t *o = o8 + P0[i].residue[2] + sw * m0;
                int64_t m = 0;
                for (; m + 16 <= n_m; m += 16) {
                    requant16(E->rq, co, a + m, 0, tmp);
                    for (int j = 0; j < 16; ++j) o[sw * (m + j)] = tmp[j];
                }
                for (; m < n_m; ++m) o[sw * m] = convt_requant_one(E->rq, co, a[m]);
            }
        } else if (in_place) {  /* forward convolutions, stride-1 transposed ones: done */
        } else if (nw == 2 && sw == 2) {  /* the common stride 2: a loop GCC vectorises */
            const float *CONVT_RESTRICT a0 = (const float *)acc, *CONVT_RESTRICT a1 = a0 + mtile;
            float *CONVT_RESTRICT of = (float *)orow + 2 * m0;
            const int64_t whole = (2 * m1 <= OW ? m1 : m1 - 1) - m0;  /* pairs inside the row */
            for (int64_t m = 0; m < whole; ++m) {
                of[2 * m] = a0[m] + b;
                of[2 * m + 1] = a1[m] + b;
            }
            if (whole < m1 - m0) of[2 * whole] = a0[whole] + b;
        } else if (nw == sw) {  /* every W residue: write the row contiguously, interleaving */
            const float *a = (const float *)acc;
            float *of = (float *)orow;
            for (int64_t m = m0; m < m1; ++m)
                for (int64_t rw = 0; rw < sw && m * sw + rw < OW; ++rw)
                    of[m * sw + rw] = a[rw * mtile + (m - m0)] + b;
        } else {  /* other positions of the row hold the bias already */
            const float *a = (const float *)acc;
            float *of = (float *)orow;
            for (int64_t i = 0; i < nw; ++i) {
                const int64_t mend = P0[i].mcount[2] < m1 ? P0[i].mcount[2] : m1;
                for (int64_t m = m0; m < mend; ++m)
                    of[P0[i].residue[2] + sw * m] = a[i * mtile + (m - m0)] + b;
            }
        }
    }
}

#endif
