"""Independent int64 reference for the quantized operator (shared/QUANT_SPEC.md):

    acc[n, o, q] = sum over taps (x - zx) * (w - zw[o])     exact, in int64 (then wrapped to int32)
    fbgemm:  y = clamp(rint(f32(fma(bias, rcp, f32(acc)) * M)) + zy, 0, 255)   (fma: one rounding)
    qnnpack: y = clamp(rint(f32(f32(acc + qbias) * R)) + zy, 0, 255)
"""

import itertools

import numpy as np

from reference import out_size

f32 = np.float32


def accumulate(xq, zx, wq, zw, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Exact int64 accumulator for batched N-d input; zw per output channel of a group."""
    nd = xq.ndim - 2
    t = lambda v: (v,) * nd if np.isscalar(v) else tuple(v)  # noqa: E731
    s, p, op, d = t(stride), t(padding), t(output_padding), t(dilation)
    N, Cin = xq.shape[:2]
    Cog = wq.shape[1]
    Cig = Cin // groups
    ks, isp = wq.shape[2:], xq.shape[2:]
    osp = tuple(out_size(isp[a], ks[a], s[a], p[a], d[a], op[a]) for a in range(nd))
    x = xq.astype(np.int64) - int(zx)
    w = wq.astype(np.int64) - np.asarray(zw, np.int64).reshape((1, Cog) + (1,) * nd)
    acc = np.zeros((N, Cog * groups) + osp, np.int64)
    for g in range(groups):
        xg, wg = x[:, g * Cig:(g + 1) * Cig], w[g * Cig:(g + 1) * Cig]
        for k in itertools.product(*(range(kk) for kk in ks)):
            wk = wg[(slice(None), slice(None)) + k]  # (Cig, Cog)
            for i in itertools.product(*(range(n) for n in isp)):
                o = tuple(i[a] * s[a] - p[a] + k[a] * d[a] for a in range(nd))
                if all(0 <= o[a] < osp[a] for a in range(nd)):
                    acc[(slice(None), slice(g * Cog, (g + 1) * Cog)) + o] += \
                        xg[(slice(None), slice(None)) + i] @ wk
    return acc


def fma_f32(a, b, c):
    """float32 a * b + c rounded once (half to even), from float64 arithmetic: the product of
    two float32 is exact in float64; the sum is rounded to float64 (TwoSum keeps its error)
    and then to float32, which rounds twice only when the float64 sum lands exactly on a
    float32 midpoint -- then the error's sign says which neighbour the exact value is nearer."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    c = np.asarray(c, np.float64)
    s = p + c
    bv = s - p
    err = (p - (s - bv)) + (c - bv)  # p + c == s + err exactly
    r = s.astype(f32)
    r64 = r.astype(np.float64)
    other = np.where(r64 > s, np.nextafter(r, f32(-np.inf)), np.nextafter(r, f32(np.inf)))
    at_mid = (s == (r64 + other.astype(np.float64)) / 2) & (err != 0)
    toward_other = np.sign(other.astype(np.float64) - r64) == np.sign(err)
    return np.where(at_mid & toward_other, other, r).astype(f32)


def requantize(acc, mode, sx, sw_out, bias, sy, zy):
    """uint8 output from the int64 accumulator; sw_out per output channel (C_out,)."""
    acc32 = acc.astype(np.int64).astype(np.int32)  # int32 wrap-around, like every engine
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    sw = np.asarray(sw_out, np.float64).reshape(shape)
    if mode == "fbgemm":
        a = (f32(sx) * sw.astype(f32)).astype(f32)
        M = (a / f32(sy)).astype(f32)
        v = acc32.astype(f32)
        if bias is not None:
            rcp = (1.0 / a.astype(np.float64)).astype(f32)
            v = fma_f32(np.asarray(bias, f32).reshape(shape), rcp, v)
        y = np.rint((v * M).astype(f32))
    else:
        if bias is None:
            qb = 0
        else:
            inv = (f32(1.0) / (sw * float(sx)).astype(f32)).astype(f32)
            qb = np.rint((np.asarray(bias, f32).reshape(shape) * inv).astype(f32)).astype(np.int64)
        R = ((sw.astype(f32) * f32(sx)).astype(f32) * (f32(1.0) / f32(sy))).astype(f32)
        v = (acc32.astype(np.int64) + qb).astype(np.int32).astype(f32)
        y = np.rint((v * R).astype(f32))
    return np.clip(y + zy, 0, 255).astype(np.uint8)
