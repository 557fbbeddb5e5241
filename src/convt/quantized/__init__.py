"""Quantized (uint8 x int8 -> uint8) transposed convolution: functions and layers mirroring
``torch.ao.nn.quantized``."""

from . import functional
from .modules import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, PackedConvTransposeParams

__all__ = ["functional", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "PackedConvTransposeParams"]
