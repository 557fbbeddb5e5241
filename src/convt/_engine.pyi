"""Type stubs for the compiled engine (convt._engine)."""

from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

ISA_ENV: str

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
    def schedule(self, batch: int, out_shape: tuple[int, int, int]) -> tuple[Any, Any]: ...

class PackedWeight(_PackedBase):
    def __init__(
        self,
        weight: npt.NDArray[np.float32],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
    ) -> None: ...

class PackedWeightQ8(_PackedBase):
    def __init__(
        self,
        weight: npt.NDArray[np.int8],
        zero_points: npt.NDArray[np.int32],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
    ) -> None: ...

def conv_transpose_f32(
    pw: PackedWeight,
    x: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32] | None,
    out: npt.NDArray[np.float32],
    num_threads: int,
) -> npt.NDArray[np.float32]: ...
def conv_transpose_q8(
    pw: PackedWeightQ8,
    x: npt.NDArray[np.uint8],
    zx: int,
    requant: tuple[int, int, Any, Any, Any],
    out: npt.NDArray[np.uint8],
    num_threads: int,
) -> npt.NDArray[np.uint8]: ...
