"""Quantized (uint8 x int8 -> uint8) convolution, transposed and forward: functions and
layers mirroring ``torch.ao.nn.quantized``."""

from . import functional
from .modules import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
                      PackedConvParams, PackedConvTransposeParams)

from . import dynamic  # noqa: E402  (after the static layers it builds on)

__all__ = ["functional", "dynamic", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Conv1d",
           "Conv2d", "Conv3d", "PackedConvParams", "PackedConvTransposeParams"]
