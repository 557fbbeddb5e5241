"""Quantized (uint8 x int8 -> uint8) transposed convolution: functions and layers mirroring
``torch.ao.nn.quantized``."""

from . import functional

__all__ = ["functional"]
