/* Requantization of an exact int32 accumulator to uint8, bit-compatible with PyTorch's two
 * engines (shared/QUANT_SPEC.md; the per-channel constants are computed in Python,
 * convt/quantized/_requant.py, with the same float32 roundings):
 *
 *   fbgemm:  y = clamp(rint(f32(f32(f32(acc) + fbias[o]) * mult[o])) + zy, 0, 255)
 *   qnnpack: y = clamp(rint(f32(f32(acc + ibias[o]) * mult[o])) + zy, 0, 255)
 *
 * rint rounds half to even (the default rounding mode).  Every step is a separate float32
 * operation: -std=c11 keeps GCC from contracting them into FMAs, and no a*b+c shape occurs.
 */
#ifndef CONVT_REQUANT_H
#define CONVT_REQUANT_H

#include <math.h>
#include <stdint.h>
#include "cpu.h"

enum { CONVT_REQUANT_FBGEMM = 0, CONVT_REQUANT_QNNPACK = 1 };

typedef struct {
    int mode;
    int32_t zy;
    const float *mult;     /* fbgemm: M[o] = f32(a / sy); qnnpack: R[o] */
    const float *fbias;    /* fbgemm: f32(bias[o] * rcp[o]), 0 without bias */
    const int32_t *ibias;  /* qnnpack: quantized bias, 0 without bias */
} convt_requant;

/* clamp(round_half_even(v) + zy, 0, 255) without calls or branches, so loops vectorise:
 * adding and subtracting 1.5 * 2^23 rounds to the nearest even integer for |v| < 2^22 (the
 * default rounding mode; no fast-math), and larger |v| saturate the output anyway. */
static CONVT_ALWAYS_INLINE uint8_t convt_round_clamp(float v, float zy)
{
    const float big = 4194304.0f, magic = 12582912.0f;
    v = v < -big ? -big : (v > big ? big : v);
    float t = ((v + magic) - magic) + zy;
    t = t < 0.0f ? 0.0f : (t > 255.0f ? 255.0f : t);
    return (uint8_t)(int32_t)t;
}

/* a + b modulo 2^32, like every int32 accumulator. */
static inline int32_t convt_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline uint8_t convt_requant_one(const convt_requant *q, int64_t o, int32_t acc)
{
    float v;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        const float sum = (float)acc + q->fbias[o];
        v = sum * q->mult[o];
    } else {
        const int32_t a = (int32_t)((uint32_t)acc + (uint32_t)q->ibias[o]);
        v = (float)a * q->mult[o];
    }
    if (v != v) v = 0.0f;  /* NaN (only from non-finite constants) */
    return convt_round_clamp(v, (float)q->zy);
}

/* The same for 16 consecutive accumulators of output channel o, each plus ``add`` (the
 * zero-point compensation; wrapping), vectorisable.  Inlined into each tier's epilogue. */
static CONVT_ALWAYS_INLINE void convt_requant16(const convt_requant *q, int64_t o,
                                                const int32_t *CONVT_RESTRICT acc, int32_t add,
                                                uint8_t *CONVT_RESTRICT dst)
{
    const float m = q->mult[o], zy = (float)q->zy;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        const float fb = q->fbias[o];
        for (int j = 0; j < 16; ++j) {
            const float sum = (float)(int32_t)((uint32_t)acc[j] + (uint32_t)add) + fb;
            dst[j] = convt_round_clamp(sum * m, zy);
        }
    } else {
        const uint32_t ib = (uint32_t)q->ibias[o] + (uint32_t)add;
        for (int j = 0; j < 16; ++j)
            dst[j] = convt_round_clamp((float)(int32_t)((uint32_t)acc[j] + ib) * m, zy);
    }
}

#endif
