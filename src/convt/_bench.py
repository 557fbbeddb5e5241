"""Benchmark: convt against its peer runtimes on the reference shapes, as % of the machine's peak.

Run with ``python -m convt bench`` (``--quick`` for a short run, ``--shapes`` to pick).
Every peer that is importable is measured in the same run, on the same data:

* float32: PyTorch (``torch.nn.functional.conv_transpose{1,2,3}d``), ONNX Runtime (``ort``)
  and OpenVINO (``ov``, f32 inference precision) on a one-node ConvTranspose ONNX graph;
* int8: PyTorch's quantized module (``torch-q``, FBGEMM, else QNNPACK) and a QDQ ONNX graph
  (uint8 -> DequantizeLinear -> ConvTranspose -> QuantizeLinear -> uint8) run by ONNX Runtime
  (``ort-qdq``) and OpenVINO (``ov-qdq``).

Each peer's output is checked once against convt's; a peer that fails or disagrees on a shape
is dropped for that shape, with the reason printed under the table.  Each system is timed as
a block (one untimed call, then its repetitions; median), one system after the other, with a
short pause between systems.  ``pip install 'convt[bench]'`` installs the peers.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import json
import math
import os
import platform
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _engine


# ----------------------------------------------------------------------------- shapes and data
@dataclass(frozen=True)
class Shape:
    name: str
    batch: int
    cin: int
    cout: int
    spatial: tuple
    kernel: tuple
    stride: tuple = None
    padding: tuple = None
    output_padding: tuple = None
    dilation: tuple = None
    groups: int = 1
    transposed: bool = True  # False: a forward convolution (an encoder's layer)

    @property
    def nd(self):
        return len(self.spatial)

    @property
    def layer(self):
        """The layer's class name: ConvTranspose{n}d or Conv{n}d (convt's and torch's)."""
        return f"{'ConvTranspose' if self.transposed else 'Conv'}{self.nd}d"

    def params(self):
        nd = self.nd
        p = dict(stride=self.stride or (1,) * nd, padding=self.padding or (0,) * nd,
                 dilation=self.dilation or (1,) * nd, groups=self.groups)
        if self.transposed:
            p["output_padding"] = self.output_padding or (0,) * nd
        return p

    def weight_shape(self):
        """PyTorch's layout: (C_in, C_out/groups, *k) transposed, (C_out, C_in/groups, *k)."""
        if self.transposed:
            return (self.cin, self.cout // self.groups) + self.kernel
        return (self.cout, self.cin // self.groups) + self.kernel

    def flops(self):
        """Useful FLOPs: 2 * N * C_in * C_out/groups * prod(kernel) * prod(spatial), where
        spatial is the input's for a transposed convolution and the output's for a forward
        one (every input / output position meets every tap)."""
        spatial = self.spatial if self.transposed else self.output_shape()[2:]
        return (2 * self.batch * self.cin * (self.cout // self.groups) * math.prod(self.kernel)
                * math.prod(spatial))

    def output_shape(self):
        """``(N, C_out, *out_spatial)`` with ``out = (i-1)*s - 2p + d*(k-1) + op + 1``
        (transposed) or ``(i + 2p - d*(k-1) - 1) // s + 1`` (forward)."""
        p = self.params()
        if self.transposed:
            out = tuple((i - 1) * s - 2 * pad + d * (k - 1) + op + 1
                        for i, k, s, pad, op, d in zip(
                            self.spatial, self.kernel, p["stride"], p["padding"],
                            p["output_padding"], p["dilation"], strict=True))
        else:
            out = tuple((i + 2 * pad - d * (k - 1) - 1) // s + 1 for i, k, s, pad, d in zip(
                self.spatial, self.kernel, p["stride"], p["padding"], p["dilation"],
                strict=True))
        return (self.batch, self.cout) + out


def _t(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def _shape(name, n, cin, cout, spatial, k, s=1, p=0, op=0, d=1, g=1, transposed=True):
    nd = len(spatial)
    return Shape(name, n, cin, cout, tuple(spatial), _t(k, nd), _t(s, nd), _t(p, nd),
                 _t(op, nd), _t(d, nd), g, transposed)


def _enc(name, n, cin, cout, spatial, k, s=1, p=0, d=1, g=1):
    """A forward convolution (encoder) shape."""
    return _shape(name, n, cin, cout, spatial, k, s, p, 0, d, g, transposed=False)


SHAPES = [
    _shape("1d_vocoder_a", 1, 512, 256, (200,), 16, s=8, p=4),
    _shape("1d_vocoder_b", 1, 256, 128, (1600,), 16, s=8, p=4),
    _shape("1d_seed", 20, 16, 33, (50,), 3, s=2),
    _shape("2d_dcgan", 16, 256, 128, (16, 16), 4, s=2, p=1),
    _shape("2d_unet", 1, 128, 64, (128, 128), 2, s=2),
    _shape("2d_depthwise", 1, 64, 64, (128, 128), 4, s=2, p=1, g=64),
    _shape("3d_unet_k2", 1, 128, 64, (16, 16, 16), 2, s=2),
    _shape("3d_unet_k3", 1, 64, 32, (32, 32, 32), 3, s=2, p=1, op=1),
    _shape("3d_seed", 20, 16, 33, (10, 50, 100), (3, 5, 2), s=(2, 1, 1), p=(0, 4, 2)),
    _shape("3d_grouped", 2, 32, 32, (16, 16, 16), 3, s=2, p=1, op=1, g=4),
    _shape("3d_dilated", 1, 32, 16, (16, 16, 16), 3, p=2, d=2),
    # encoders: forward convolutions, the decoders' adjoints and the usual stride-1 layers
    _enc("enc_1d_vocoder", 1, 256, 512, (1600,), 16, s=8, p=4),
    _enc("enc_2d_dcgan", 16, 128, 256, (16, 16), 4, s=2, p=1),
    _enc("enc_2d_3x3", 1, 64, 64, (56, 56), 3, p=1),
    _enc("enc_2d_depthwise", 1, 64, 64, (128, 128), 3, p=1, g=64),
    _enc("enc_3d_unet", 1, 32, 64, (64, 64, 64), 3, s=2, p=1),
]

# Quantization of the int8 section, for convt and every peer: (scale, zero point).
Q_INPUT = (0.03, 0)
Q_WEIGHT = (0.002, 0)
Q_OUTPUT = (0.05, 128)


def make_inputs(shape: Shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.batch, shape.cin) + shape.spatial, dtype=np.float32)
    w = rng.standard_normal(shape.weight_shape(), dtype=np.float32) * 0.05
    b = rng.standard_normal(shape.cout, dtype=np.float32)
    return x, w, b


def make_q_inputs(shape: Shape, seed=0):
    """The int8 section's data: uint8 input and int8 weight (convt ``QTensor``), float bias.

    The input is ``|x|`` (post-ReLU activations) quantized with :data:`Q_INPUT`; the weight is
    quantized symmetrically with :data:`Q_WEIGHT`.
    """
    from .qtensor import quantize_per_tensor
    x, w, b = make_inputs(shape, seed)
    return (quantize_per_tensor(np.abs(x), *Q_INPUT),
            quantize_per_tensor(w, *Q_WEIGHT, np.int8), b)


# ----------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Timing:
    """How long to time one system on one shape.

    Repetitions go on until at least ``min_reps`` were made and ``budget`` seconds have passed
    (at most ``max_reps``), but stop at ``cap`` seconds whatever the count (at least one).
    """
    budget: float
    cap: float
    min_reps: int = 3
    max_reps: int = 200
    pause: float = 0.2  # idle seconds before each block: other runtimes' spinning workers sleep


QUICK = Timing(budget=0.1, cap=0.3, min_reps=3)
FULL = Timing(budget=0.5, cap=3.0, min_reps=5)


def time_block(fn: Callable[[], object], timing: Timing):
    """Time ``fn`` as one block: an idle pause, one untimed call, then the repetitions back to
    back (see :class:`Timing`).

    Returns
    -------
    seconds : float
        The median time of one call.
    first : object
        What the untimed call returned (for the output check).
    """
    time.sleep(timing.pause)
    first = fn()
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        n, elapsed = len(times), t1 - start
        if n >= timing.max_reps or elapsed >= timing.cap or (
                n >= timing.min_reps and elapsed >= timing.budget):
            return statistics.median(times), first


# ----------------------------------------------------------------------------- runners
@dataclass
class Runner:
    """One system, built for one shape: ``call()`` is what is timed; ``output(call())`` gives
    its result as a NumPy array (float32, or the uint8 values) for the one-time check.

    ``label`` names the variant when it is not the peer's usual one (e.g. torch-q on QNNPACK)
    and ``note`` says why.
    """
    call: Callable[[], object]
    output: Callable[[object], np.ndarray] = np.asarray
    label: str | None = None
    note: str | None = None


def convt_runner(shape: Shape, threads: int):
    """A layer packs its weights once: measure that steady state, as a module call."""
    from . import modules
    x, w, b = make_inputs(shape)
    cls = getattr(modules, shape.layer)
    m = cls(shape.cin, shape.cout, shape.kernel, **shape.params())
    m.weight, m.bias = w, b
    out = np.empty_like(m(x))
    return lambda: m(x, out=out, num_threads=threads)


def convt_q8_runner(shape: Shape, threads: int):
    """The quantized layer in its steady state (packed int8 weights, preallocated output)."""
    from . import quantized
    qx, qw, b = make_q_inputs(shape)
    cls = getattr(quantized, shape.layer)
    m = cls(shape.cin, shape.cout, shape.kernel, **shape.params())
    m.set_weight_bias(qw, b)
    m.scale, m.zero_point = Q_OUTPUT
    out = np.empty(m(qx).shape, np.uint8)
    return lambda: m(qx, out=out, num_threads=threads)


def _convt_f32(shape, threads):
    return Runner(convt_runner(shape, threads), output=np.array)  # a copy: `out` is reused


def _convt_q8(shape, threads):
    return Runner(convt_q8_runner(shape, threads), output=lambda q: q.int_repr().copy())


def torch_runner(shape: Shape, threads: int) -> Runner:
    """``torch.nn.functional.conv_transpose{n}d`` (or ``conv{n}d``) under ``no_grad``."""
    import torch
    torch.set_num_threads(threads)
    x, w, b = (torch.from_numpy(a) for a in make_inputs(shape))
    tf = getattr(torch.nn.functional,
                 f"{'conv_transpose' if shape.transposed else 'conv'}{shape.nd}d")
    kw = shape.params()

    def run():
        with torch.no_grad():
            return tf(x, w, b, **kw)
    return Runner(run, output=lambda y: y.numpy())


def _torch_q8_module(shape: Shape, engine: str):
    """``torch.ao.nn.quantized.ConvTranspose{n}d`` packed for ``engine`` (which stays the
    quantized engine), and its input."""
    import torch
    torch.backends.quantized.engine = engine
    x, w, b = make_inputs(shape)  # quantized as make_q_inputs does (bit-identical)
    with warnings.catch_warnings():  # quantized tensors are deprecated in recent torch
        warnings.simplefilter("ignore")
        tx = torch.quantize_per_tensor(torch.from_numpy(np.abs(x)), *Q_INPUT, torch.quint8)
        tw = torch.quantize_per_tensor(torch.from_numpy(w), *Q_WEIGHT, torch.qint8)
        m = getattr(torch.ao.nn.quantized, shape.layer)(
            shape.cin, shape.cout, shape.kernel, **shape.params())
        m.set_weight_bias(tw, torch.from_numpy(b))
        m.scale, m.zero_point = Q_OUTPUT
        with torch.no_grad():
            m(tx)  # an engine that refuses the shape says so here
    return m, tx


def torch_q8_runner(shape: Shape, threads: int) -> Runner:
    """PyTorch's quantized module on FBGEMM, or on QNNPACK (labelled) when FBGEMM refuses."""
    import torch
    torch.set_num_threads(threads)
    refused = []
    for engine in ("fbgemm", "qnnpack"):
        if engine not in torch.backends.quantized.supported_engines:
            refused.append(f"{engine}: not in this torch build")
            continue
        try:
            m, tx = _torch_q8_module(shape, engine)
        except Exception as e:  # noqa: BLE001 - any refusal means: try the next engine
            refused.append(f"{engine}: {_first_line(e)}")
            continue

        def run(m=m, tx=tx, engine=engine):
            torch.backends.quantized.engine = engine  # some kernels dispatch on it: 0.3 us
            with torch.no_grad():
                return m(tx)
        fallback = engine != "fbgemm"
        return Runner(run, output=lambda y: y.int_repr().numpy(),
                      label=f"torch-q/{engine}" if fallback else None,
                      note="; ".join(refused) if fallback else None)
    raise RuntimeError("; ".join(refused))


def onnx_case(shape: Shape, quantized: bool = False):
    """A one-node ConvTranspose (or Conv) ONNX model (opset 17) for ``shape``, with its input and an
    empty output array.

    Weight and bias are initializers.  Float: ``x -> ConvTranspose(x, W, B) -> y`` in float32.
    Quantized (QDQ, :data:`Q_INPUT`, :data:`Q_WEIGHT`, :data:`Q_OUTPUT`): uint8 ``x`` ->
    DequantizeLinear -> ConvTranspose with ``W = DequantizeLinear(int8 Wq)`` and float ``B`` ->
    QuantizeLinear -> uint8 ``y``.

    Returns
    -------
    model : bytes
        The serialized ``onnx.ModelProto``.
    x : ndarray
        The input (float32, or uint8 when ``quantized``).
    y : ndarray
        Uninitialized output of the right shape and dtype.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def init(name, value, dtype):
        return numpy_helper.from_array(np.asarray(value, dtype), name)

    p = shape.params()
    nodes = []
    if quantized:
        qx, qw, b = make_q_inputs(shape)
        x, elem = qx.int_repr(), TensorProto.UINT8
        inits = [init("Wq", qw.int_repr(), np.int8), init("B", b, np.float32),
                 init("sx", Q_INPUT[0], np.float32), init("zx", Q_INPUT[1], np.uint8),
                 init("sw", Q_WEIGHT[0], np.float32), init("zw", Q_WEIGHT[1], np.int8),
                 init("sy", Q_OUTPUT[0], np.float32), init("zy", Q_OUTPUT[1], np.uint8)]
        nodes += [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xf"]),
                  helper.make_node("DequantizeLinear", ["Wq", "sw", "zw"], ["W"])]
        conv_io = (["xf", "W", "B"], ["yf"])
    else:
        x, w, b = make_inputs(shape)
        elem = TensorProto.FLOAT
        inits = [init("W", w, np.float32), init("B", b, np.float32)]
        conv_io = (["x", "W", "B"], ["y"])
    attrs = dict(kernel_shape=list(shape.kernel), strides=list(p["stride"]),
                 pads=list(p["padding"]) * 2, dilations=list(p["dilation"]), group=p["groups"])
    if shape.transposed:
        attrs["output_padding"] = list(p["output_padding"])
    nodes.append(helper.make_node("ConvTranspose" if shape.transposed else "Conv", *conv_io,
                                  **attrs))
    if quantized:
        nodes.append(helper.make_node("QuantizeLinear", ["yf", "sy", "zy"], ["y"]))
    y = np.empty(shape.output_shape(), x.dtype)
    graph = helper.make_graph(
        nodes, f"convt_{shape.name}", [helper.make_tensor_value_info("x", elem, x.shape)],
        [helper.make_tensor_value_info("y", elem, y.shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # the IR of opset 17: readable by older runtimes too
    onnx.checker.check_model(model)
    return model.SerializeToString(), x, y


def ort_runner(shape: Shape, threads: int, quantized: bool = False) -> Runner:
    """ONNX Runtime (CPU provider) on :func:`onnx_case`: ``threads`` intra-op threads, one
    inter-op thread, sequential execution, input and output bound once (no copies per call)."""
    import onnxruntime as ort
    model, x, y = onnx_case(shape, quantized)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    io = sess.io_binding()
    io.bind_cpu_input("x", x)
    io.bind_output("y", "cpu", 0, y.dtype, y.shape, y.ctypes.data)
    keep = (sess, io, x, y)  # the binding refers to x's and y's memory: keep them alive

    def run(keep=keep):
        keep[0].run_with_iobinding(keep[1])
    return Runner(run, output=lambda _: y)


@functools.cache
def _ov_core():
    import openvino as ov
    return ov.Core()


def ov_runner(shape: Shape, threads: int, quantized: bool = False) -> Runner:
    """OpenVINO (CPU plugin) on :func:`onnx_case`, compiled for latency with ``threads``
    threads and f32 inference precision (it would otherwise pick bf16 on CPUs that have it);
    input and output tensors share the NumPy arrays."""
    import openvino as ov
    model, x, y = onnx_case(shape, quantized)
    compiled = _ov_core().compile_model(_ov_core().read_model(model), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32"})
    req = compiled.create_infer_request()
    req.set_input_tensor(ov.Tensor(x, shared_memory=True))
    req.set_output_tensor(ov.Tensor(y, shared_memory=True))

    def run(keep=(compiled, x, y)):  # the tensors share x's and y's memory: keep them alive
        req.start_async()
        req.wait()
    return Runner(run, output=lambda _: y)


def _first_line(exc: BaseException, width=160) -> str:
    text = str(exc).strip().splitlines()
    msg = f"{type(exc).__name__}: {text[0] if text else ''}"
    return msg if len(msg) <= width else msg[:width - 3] + "..."


# ----------------------------------------------------------------------------- checks
def agree_float(out: np.ndarray, ref: np.ndarray, rtol=1e-3, atol=1e-3):
    """None when ``out`` matches ``ref`` (allclose, ``atol`` relative to ``max|ref|``), else why."""
    out = np.asarray(out)
    if out.shape != ref.shape:
        return f"output shape {out.shape}, convt's is {ref.shape}"
    scale = float(np.abs(ref).max()) or 1.0
    if np.allclose(out, ref, rtol=rtol, atol=atol * scale):
        return None
    err = float(np.nanmax(np.abs(out.astype(np.float64) - ref)))
    return f"disagrees with convt: max |diff| {err:.3g} ({err / scale:.2g} of max |out|)"


def agree_uint8(out: np.ndarray, ref: np.ndarray, within=2, fraction=0.99):
    """None when at least ``fraction`` of the uint8 outputs are within ``within`` of ``ref``."""
    out = np.asarray(out)
    if out.shape != ref.shape:
        return f"output shape {out.shape}, convt's is {ref.shape}"
    diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    close = float(np.mean(diff <= within)) if diff.size else 1.0
    if close >= fraction:
        return None
    return (f"disagrees with convt: {100 * close:.1f}% of outputs within {within} "
            f"(max diff {int(diff.max())})")


# ----------------------------------------------------------------------------- peers, sections
@dataclass(frozen=True)
class Peer:
    """A peer runtime: table ``name``, the modules it needs, and its runner factory."""
    name: str
    modules: tuple
    factory: Callable[[Shape, int], Runner]

    def missing(self):
        """The needed modules that are not installed."""
        return [m for m in self.modules if importlib.util.find_spec(m) is None]

    def version(self):
        v = getattr(importlib.import_module(self.modules[0]), "__version__", "?")
        return v.split("+")[0].split("-")[0]


@dataclass(frozen=True)
class Section:
    """A benchmark table: convt's runner, its peers, the unit and how outputs must agree."""
    name: str
    title: str
    unit: str
    peak_key: str
    convt: Callable[[Shape, int], Runner]
    peers: tuple
    agree: Callable[[np.ndarray, np.ndarray], str | None]


FLOAT = Section("float", "float32", "GF/s", "f32", _convt_f32, (
    Peer("torch", ("torch",), torch_runner),
    Peer("ort", ("onnxruntime", "onnx"), ort_runner),
    Peer("ov", ("openvino", "onnx"), ov_runner),
), agree_float)

INT8 = Section("int8", "int8 (uint8 x int8 -> uint8)", "GOP/s", "int8", _convt_q8, (
    Peer("torch-q", ("torch",), torch_q8_runner),
    Peer("ort-qdq", ("onnxruntime", "onnx"), functools.partial(ort_runner, quantized=True)),
    Peer("ov-qdq", ("openvino", "onnx"), functools.partial(ov_runner, quantized=True)),
), agree_uint8)

SECTIONS = {"float": FLOAT, "int8": INT8}


# ----------------------------------------------------------------------------- machine
def _peaks(threads: int, seconds: float) -> dict:
    """The machine's measured peaks with ``threads`` threads: ``f32`` (GF/s), ``int8``
    (GOP/s, 2 per multiply-add) and ``int8_label`` (the instruction mix measured).

    The one place that knows which probes define "peak": those of the ISA tier in use
    (:func:`convt._probe.peak`: fp32 FMA chains, ``vpdpbusd`` chains on VNNI tiers,
    ``vpmaddwd`` otherwise, or the tier's own micro-kernel on L1-resident panels, whichever
    is faster).
    """
    from . import _probe
    f32, f32_label = _probe.peak("f32", seconds / 2, threads)
    int8, int8_label = _probe.peak("int8", seconds / 2, threads)
    return dict(f32=f32, f32_label=f32_label, int8=int8, int8_label=int8_label)


def cpu_model() -> str:
    """The CPU's name: ``model name`` of /proc/cpuinfo on Linux, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_counters():
    """A snapshot ``(busy ticks of all CPUs, all ticks, this process's ticks)`` from /proc,
    or None where /proc cannot be read (not Linux)."""
    try:
        with open("/proc/stat") as f:
            cpu = [int(v) for v in f.readline().split()[1:9]]  # user .. steal
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return None
    return sum(cpu) - cpu[3] - cpu[4], sum(cpu), int(own[11]) + int(own[12])


def others_load(start, end):
    """Fraction of all CPUs' time that other processes (and the hypervisor: steal) took between
    two :func:`cpu_counters` snapshots, or None."""
    if start is None or end is None or end[1] <= start[1]:
        return None
    return max(0.0, (end[0] - start[0] - (end[2] - start[2])) / (end[1] - start[1]))


def _load_warning(load, what):
    """A warning line when other processes took more than 5% of the CPUs, else None."""
    if load is None or load <= 0.05:
        return None
    return (f"warning: other processes took {100 * load:.0f}% of the CPUs' time during {what}: "
            "these timings are unreliable")


# ----------------------------------------------------------------------------- tables
SHAPE_W, NUM_W, BEST_W = max(len(s.name) for s in SHAPES), 9, 15


def _cell(value, fmt=".1f", width=NUM_W):
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def _peer_width(name):
    return max(NUM_W, len(name) + 1)


def format_header(unit: str, peer_names) -> str:
    """The column header of a section table with one column per installed peer."""
    line = f"{'shape':<{SHAPE_W}} {'convt':>{NUM_W}} {'% peak':>7} {'ms':>{NUM_W}}"
    if peer_names:
        line += "".join(f" {n:>{_peer_width(n)}}" for n in peer_names)
        line += f"  {'best peer':<{BEST_W}} {'convt/best':>10}"
    return line + f"   ({unit})"


def format_row(row: dict, peer_names) -> str:
    """One table line: convt's rate, % of peak and ms, then each of ``peer_names`` (``-`` when
    that peer has no valid time on this shape; peers not named get no column), the fastest peer
    and ``time_best / time_convt``.  A ``*`` marks a peer that ran as a labelled variant."""
    line = (f"{row['shape']:<{SHAPE_W}} {_cell(row['rate'])} {_cell(row['pct'], '.1f', 6)}%"
            f" {_cell(row['ms'], '.3f')}")
    if peer_names:
        for name in peer_names:
            p = row["peers"].get(name)
            text = "-" if p is None else f"{p['rate']:.1f}" + ("*" if p.get("label") else "")
            line += f" {text:>{_peer_width(name)}}"
        best = row.get("best")
        line += f"  {best or '-':<{BEST_W}} {_cell(row.get('ratio'), '.2f', 9)}"
        line += "x" if row.get("ratio") is not None else " "
    return line


def _geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def format_summary(rows) -> list:
    """The closing line: geometric mean and minimum of convt/best-peer over the shapes."""
    rated = [r for r in rows if r.get("ratio") is not None]
    if not rated:
        return []
    worst = min(rated, key=lambda r: r["ratio"])
    return [f"convt/best peer: geometric mean {_geomean([r['ratio'] for r in rated]):.2f}x over "
            f"{len(rated)} shapes, min {worst['ratio']:.2f}x ({worst['shape']})"]


def make_row(shape: Shape, convt_s: float, peer_times: dict, peak: float, labels=None) -> dict:
    """A table row from convt's and the peers' seconds per call (peers without a time left out).

    ``labels`` maps a peer name to the variant it ran as (e.g. ``torch-q/qnnpack``).
    """
    labels = labels or {}
    rate = shape.flops() / convt_s / 1e9
    row = dict(shape=shape.name, rate=rate, pct=100 * rate / peak, ms=convt_s * 1e3, peers={})
    for name, s in peer_times.items():
        row["peers"][name] = dict(rate=shape.flops() / s / 1e9, ms=s * 1e3,
                                  label=labels.get(name))
    if peer_times:
        best = min(peer_times, key=peer_times.get)
        row.update(best=labels.get(best) or best, ratio=peer_times[best] / convt_s)
    return row


# ----------------------------------------------------------------------------- running
def _build_peer(peer: Peer, shape: Shape, threads: int, notes):
    """``peer``'s Runner for ``shape`` (model built and compiled), or None with the reason
    appended to ``notes``."""
    try:
        runner = peer.factory(shape, threads)
    except Exception as e:  # noqa: BLE001 - a peer's failure must not stop the benchmark
        notes.append(f"{peer.name} dropped on {shape.name}: {_first_line(e)}")
        return None
    if runner.note:
        notes.append(f"{peer.name} ran as {runner.label} on {shape.name}: {runner.note}")
    return runner


def _time_peer(name: str, runner: Runner, shape: Shape, timing: Timing, ref, agree, notes):
    """Seconds per call of a peer's block, or None (reason in ``notes``) when it fails or its
    first output disagrees with convt's ``ref``."""
    try:
        seconds, first = time_block(runner.call, timing)
        why = agree(runner.output(first), ref)
    except Exception as e:  # noqa: BLE001
        why = _first_line(e)
    if why:
        notes.append(f"{name} dropped on {shape.name}: {why}")
        return None
    return seconds


def measure_shape(section: Section, shape: Shape, threads: int, peers, timing: Timing, peak,
                  notes) -> tuple:
    """Time convt and every peer on ``shape``, each as its own block, and check each peer's
    output against convt's.

    All systems are built first (weight packing, model compilation: not timed); then convt's
    block, then each peer's, in order.  Returns ``(row, convt seconds)``.
    """
    convt = section.convt(shape, threads)
    runners = {p.name: _build_peer(p, shape, threads, notes) for p in peers}
    runners = {name: r for name, r in runners.items() if r is not None}
    convt_s, first = time_block(convt.call, timing)
    ref = convt.output(first)
    peer_times = {}
    for name, runner in runners.items():
        seconds = _time_peer(name, runner, shape, timing, ref, section.agree, notes)
        if seconds is not None:
            peer_times[name] = seconds
    labels = {name: r.label for name, r in runners.items() if r.label and name in peer_times}
    return make_row(shape, convt_s, peer_times, peak, labels), convt_s


def installed_peers(section: Section, printer=print):
    """The section's peers whose modules are importable; the others are named once."""
    found, absent = [], []
    for p in section.peers:
        missing = p.missing()
        if missing:
            absent.append(f"{p.name} (needs {', '.join(missing)})")
        else:
            found.append(p)
    if absent:
        printer(f"not installed, left out: {'; '.join(absent)}")
    return found


def run_section(section: Section, shapes, threads: int, timing: Timing, peaks: dict,
                peers=True, printer=print) -> dict:
    """Print one section's table, row by row, then its summary and notes; return its rows."""
    peak = peaks[section.peak_key]
    peak_name = peaks.get(f"{section.peak_key}_label")
    printer("")
    printer(f"== {section.title}: measured peak {peak:.1f} {section.unit}"
            + (f" ({peak_name})" if peak_name else ""))
    active = installed_peers(section, printer) if peers else []
    if active:
        printer("peers: " + ", ".join(f"{p.name} {p.version()}" for p in active))
    names = [p.name for p in active]
    printer(format_header(section.unit, names))
    rows, notes = [], []
    start = cpu_counters()
    for shape in shapes:
        row, convt_s = measure_shape(section, shape, threads, active, timing, peak, notes)
        row["convt_s"] = convt_s
        printer(format_row(row, names))
        rows.append(row)
    for line in format_summary(rows):
        printer(line)
    if any(p.get("label") for r in rows for p in r["peers"].values()):
        printer("* ran as a fallback variant (see notes)")
    for note in notes:
        printer(f"note: {note}")
    load = others_load(start, cpu_counters())
    warning = _load_warning(load, "this section")
    if warning:
        printer(warning)
    return dict(rows=rows, notes=notes, peers={p.name: p.version() for p in active},
                others_load=load)


def run_scaling(sections, shapes, threads: int, timing: Timing, printer=print) -> list:
    """Time convt at 1 thread and at ``threads`` per section and shape; print the speedups."""
    printer("")
    printer(f"== thread scaling: convt on 1 and {threads} threads (ms per call, speedup)")
    printer(f"{'shape':<{SHAPE_W}}" + "".join(
        f" {s.name + ' 1T':>{NUM_W}} {f'{s.name} {threads}T':>{NUM_W}} {'speedup':>8}"
        for s in sections))
    rows, start = [], cpu_counters()
    for shape in shapes:
        row, line = dict(shape=shape.name), f"{shape.name:<{SHAPE_W}}"
        for s in sections:
            t1, tn = (time_block(s.convt(shape, n).call, timing)[0] for n in (1, threads))
            row[s.name] = dict(ms_1=t1 * 1e3, ms_n=tn * 1e3, speedup=t1 / tn)
            line += f" {t1 * 1e3:>{NUM_W}.3f} {tn * 1e3:>{NUM_W}.3f} {t1 / tn:>7.2f}x"
        printer(line)
        rows.append(row)
    for s in sections:
        gm = _geomean([r[s.name]["speedup"] for r in rows])
        printer(f"{s.name}: geometric mean speedup {gm:.2f}x on {threads} threads "
                f"({100 * gm / threads:.0f}% parallel efficiency)")
    warning = _load_warning(others_load(start, cpu_counters()), "the scaling runs")
    if warning:
        printer(warning)
    return rows


def shape_names() -> list:
    """The names of the reference shapes, in :data:`SHAPES` order."""
    return [s.name for s in SHAPES]


def select_shapes(names=None) -> list:
    """The :data:`SHAPES` named by ``names`` (all when None), in :data:`SHAPES` order.

    Raises
    ------
    ValueError
        A name is not one of :func:`shape_names` (the message lists them), or none is given.
    """
    if names is None:
        return list(SHAPES)
    if isinstance(names, str):
        names = [names]
    valid = shape_names()
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        what = (f"unknown shape name(s): {', '.join(map(repr, unknown))}" if unknown
                else "no shape selected")
        raise ValueError(f"{what}; valid names: {', '.join(valid)}")
    return [s for s in SHAPES if s.name in names]


def _shape_list() -> str:
    """The reference shapes, one per line, for ``bench --help``."""
    def dims(v):
        return "x".join(map(str, v))

    lines = ["shapes (NAME: layer, batch, C_in -> C_out, input size, kernel k, stride s;",
             "        padding p, output_padding op, dilation d, groups g when not the default):"]
    for s in SHAPES:
        p = s.params()
        extra = "".join(f", {key} {dims(p[name])}" for key, name, default in (
            ("p", "padding", 0), ("op", "output_padding", 0), ("d", "dilation", 1))
            if name in p and any(v != default for v in p[name]))
        lines.append(f"  {s.name:<{SHAPE_W}} {s.layer}, {s.batch}, {s.cin} -> {s.cout}, "
                     f"{dims(s.spatial)}, k {dims(s.kernel)}, s {dims(p['stride'])}{extra}"
                     + (f", g {s.groups}" if s.groups > 1 else ""))
    return "\n".join(lines)


def run(shapes=None, threads=None, quick=False, peers=True, sections=("float", "int8"),
        scaling=None, printer=print) -> dict:
    """Run the benchmark; returns everything measured (what ``--json`` writes).

    Parameters
    ----------
    shapes : list of str, optional
        Names from :data:`SHAPES` (default: all); an unknown name is a ``ValueError`` that
        lists the valid ones.
    threads : int, optional
        Threads for every system (default: OpenMP's default team size).
    quick : bool
        Short timings (:data:`QUICK` instead of :data:`FULL`).
    peers : bool
        Measure the installed peers.
    sections : sequence of {'float', 'int8'}
    scaling : bool, optional
        Also time convt at 1 thread; default: when not ``quick``.
    """
    selected = select_shapes(shapes)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        raise ValueError(f"sections must be among {', '.join(SECTIONS)}, got {sections!r}")
    threads = threads or _engine.max_threads()
    timing = QUICK if quick else FULL
    scaling = (not quick) if scaling is None else scaling
    peaks = _peaks(threads, 0.2 if quick else 0.5)
    isa, why = _engine.isa()
    printer(f"convt benchmark | CPU: {cpu_model()} | convt ISA: {isa} ({why}) | "
            f"{threads} threads | peak f32 {peaks['f32']:.1f} GF/s ({peaks['f32_label']}), "
            f"int8 {peaks['int8']:.1f} GOP/s ({peaks['int8_label']})")
    result = dict(cpu=cpu_model(), isa=isa, isa_reason=why, threads=threads, quick=quick,
                  peaks=peaks)
    for name in sections:
        result[name] = run_section(SECTIONS[name], selected, threads, timing, peaks, peers,
                                   printer)
    if "float" in result and "int8" in result:  # int8 against convt's own float path
        f32 = {r["shape"]: r["convt_s"] for r in result["float"]["rows"]}
        for r in result["int8"]["rows"]:
            r["int8_over_f32"] = f32[r["shape"]] / r["convt_s"]
    if scaling:
        if threads > 1:
            result["scaling"] = run_scaling([SECTIONS[n] for n in sections], selected, threads,
                                            timing, printer)
        else:
            printer("thread scaling skipped: 1 thread")
    return result


def write_json(result: dict, path: str):
    """Write :func:`run`'s result (all rows of every section) as JSON."""
    with open(path, "w") as f:
        json.dump(result, f, indent=1, default=float)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m convt bench", description=__doc__,
                                 epilog=_shape_list(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short timings, no thread scaling")
    ap.add_argument("--threads", type=int, default=None, help="threads (default: OpenMP's)")
    ap.add_argument("--shapes", nargs="+", choices=shape_names(), metavar="NAME",
                    help="shape names to run (default: all): " + ", ".join(shape_names()))
    ap.add_argument("--no-peers", action="store_true", help="measure convt only")
    ap.add_argument("--section", choices=["all", "float", "int8"], default="all")
    ap.add_argument("--scaling", action=argparse.BooleanOptionalAction, default=None,
                    help="also time convt on 1 thread (default: on, off with --quick)")
    ap.add_argument("--json", metavar="PATH", help="write every measured row to PATH")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")
    sections = ("float", "int8") if args.section == "all" else (args.section,)
    result = run(args.shapes, args.threads, args.quick, not args.no_peers, sections,
                 args.scaling, functools.partial(print, flush=True))
    if args.json:
        write_json(result, args.json)
        print(f"wrote {os.path.abspath(args.json)}")
    return result
