"""Type aliases used in the annotations of the public API.

Runtime-safe (``typing.get_type_hints`` on convt's functions works) and torch-free: torch is
optional, so its tensors and modules are typed ``Any``.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeAlias, Union

import numpy as np

#: A hyper-parameter given per spatial dimension: an int for every dimension, or a tuple (or
#: list) of ``nd`` ints, as PyTorch's ``_size_{n}_t``.
Size: TypeAlias = Union[int, tuple[int, ...], list[int]]
#: ``output_size``: the spatial sizes or the whole output shape (an int for 1-D).
OutputSize: TypeAlias = Union[int, tuple[int, ...], list[int]]
#: ``rng=`` of the layers: what ``numpy.random.default_rng`` takes (a seed, a SeedSequence, a
#: BitGenerator or a Generator).
RngLike: TypeAlias = Union[None, int, Sequence[int], np.random.SeedSequence,
                           np.random.BitGenerator, np.random.Generator]
#: A quantization scale: a positive normal float32 value.
Scale: TypeAlias = Union[float, np.floating[Any]]
#: A quantization zero point.
ZeroPoint: TypeAlias = Union[int, np.integer[Any]]
#: ``torch.Tensor`` (torch is optional, so not imported).
TorchTensor: TypeAlias = Any
#: ``torch.nn.Module`` (torch is optional, so not imported).
TorchModule: TypeAlias = Any
#: ``dask.array.Array`` in the layers' ``apply_dask`` (dask is optional, so not imported).
DaskArray: TypeAlias = Any

__all__ = ["Size", "OutputSize", "RngLike", "Scale", "ZeroPoint", "TorchTensor", "TorchModule",
           "DaskArray"]
