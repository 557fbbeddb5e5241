"""Type stubs for the compiled engine (convt._engine, from _engine.pyx).

Checked against the compiled module with ``python -m mypy.stubtest convt._engine convt._probe``
(tests/test_typing.py, which holds the allowlist of intended differences).
"""

from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

ISA_ENV: str
# imported from convt._plan
DIRECT_MAX_COG: int
PARALLEL_MIN_MACS: int

# stub-only: the dicts tiers() returns

class TierInfo(TypedDict):
    name: str
    available: bool
    features: list[str]
    f32: str
    q8: str
    q8_zw: str
    f32_alt: str | None
    q8_alt: str | None

def tiers() -> list[TierInfo]: ...
def isa() -> tuple[str, str]: ...
def _set_isa(name: str) -> str: ...
def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def build_info() -> dict[str, str]: ...
def scratch_nbytes() -> int: ...

class _PackedBase:
    # set by _init_geometry (geometry, phases, kernel variant) and _pack
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int]
    dilation: tuple[int, int, int]
    groups: int
    cig: int
    cog: int
    ckr: int
    ksize: int
    direct: bool
    tier: int
    kind: int
    variant: str
    tile: tuple[int, int, int]
    a_group_stride: int
    phases: Any  # convt._plan.Phases
    apack: npt.NDArray[Any]  # packed tiles (GEMM variants only)
    wsum: npt.NDArray[np.int32] | None
    wsum_cog: int
    def _init_geometry(
        self,
        shape: tuple[int, ...],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
        kind: int,
        forward: bool,
    ) -> None: ...
    def _pack(
        self, weight: npt.NDArray[Any], zero_points: npt.NDArray[np.int32] | None = None
    ) -> None: ...
    # (convt._plan.Schedule or DirectSchedule, the C phase table), cached per shape
    def schedule(
        self, batch: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> tuple[Any, Any]: ...

class PackedWeight(_PackedBase):
    weight: npt.NDArray[np.float32]  # direct kernel only: the weights as they are
    def __init__(
        self,
        weight: npt.NDArray[np.float32],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
        forward: bool = False,
    ) -> None: ...

class PackedWeightQ8(_PackedBase):
    w16: npt.NDArray[np.int16]  # direct kernel only: w - zero point
    def __init__(
        self,
        weight: npt.NDArray[np.int8],
        zero_points: npt.NDArray[np.int32],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
        forward: bool = False,
    ) -> None: ...

def convolve_f32(
    pw: PackedWeight,
    x: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32] | None,
    out: npt.NDArray[np.float32],
    num_threads: int,
) -> npt.NDArray[np.float32]: ...
def convolve_q8(
    pw: PackedWeightQ8,
    x: npt.NDArray[np.uint8],
    zx: int,
    # (mode: 0 fbgemm / 1 qnnpack, output zero point, mult, bias, rcp, ibias), per output
    # channel (include/convt/requant.h)
    requant: tuple[
        int,
        int,
        npt.NDArray[np.float32],
        npt.NDArray[np.float32],
        npt.NDArray[np.float32],
        npt.NDArray[np.int32],
    ],
    out: npt.NDArray[np.uint8],
    num_threads: int,
) -> npt.NDArray[np.uint8]: ...
