"""convt: fast, exact transposed and forward convolution on NumPy arrays.

Float32 ``conv_transpose1d/2d/3d``, ``ConvTranspose1d/2d/3d``, ``conv1d/2d/3d`` and
``Conv1d/2d/3d`` with PyTorch's semantics, and their quantized versions (``convt.quantized``),
computed by a Cython/OpenMP engine with AVX2/FMA kernels chosen at import (``CONVT_ISA=portable``
forces the portable kernels).
"""

from ._engine import isa, max_threads, openmp_enabled
from .functional import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,
                         conv_transpose3d)
from .modules import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .qtensor import QTensor, quantize_per_channel, quantize_per_tensor
from . import quantized  # noqa: E402  (after QTensor: quantized imports it)

from ._version import __version__  # noqa: E402  (the one place it is written)

__all__ = [
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "conv1d", "conv2d", "conv3d", "Conv1d", "Conv2d", "Conv3d",
    "QTensor", "quantize_per_tensor", "quantize_per_channel", "quantized",
    "isa", "max_threads", "openmp_enabled", "__version__",
]
