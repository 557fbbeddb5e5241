"""Type stubs for the compiled engine (convt._engine)."""

from typing import Any

import numpy as np
import numpy.typing as npt

ISA_ENV: str

def isa() -> tuple[str, str]: ...
def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def build_info() -> dict[str, str]: ...

class PackedWeight:
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int]
    dilation: tuple[int, int, int]
    groups: int
    cig: int
    cog: int
    ksize: int
    direct: bool
    a_group_stride: int
    def __init__(
        self,
        weight: npt.NDArray[np.float32],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
    ) -> None: ...
    def schedule(self, batch: int, out_shape: tuple[int, int, int]) -> tuple[Any, Any]: ...

def conv_transpose_f32(
    pw: PackedWeight,
    x: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32] | None,
    out: npt.NDArray[np.float32],
    num_threads: int,
) -> npt.NDArray[np.float32]: ...
def peak_probe_f32(seconds: float = ..., num_threads: int = ...) -> float: ...
def peak_probe_int8(seconds: float = ..., num_threads: int = ...) -> float: ...
def conv_transpose_q8(
    pw: PackedWeightQ8,
    x: npt.NDArray[np.uint8],
    zx: int,
    requant: tuple[int, int, Any, Any, Any],
    out: npt.NDArray[np.uint8],
    num_threads: int,
) -> npt.NDArray[np.uint8]: ...

class PackedWeightQ8(PackedWeight):
    def __init__(  # type: ignore[override]
        self,
        weight: npt.NDArray[np.int8],
        zero_points: npt.NDArray[np.int32],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
        dilation: tuple[int, int, int],
        groups: int,
    ) -> None: ...
