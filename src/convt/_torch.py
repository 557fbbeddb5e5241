"""PyTorch interop, with torch optional: recognising torch objects without importing torch,
and converting tensors, quantized tensors and modules both ways.

Nothing here imports torch unless a torch object was handed in or a conversion to torch was
asked for.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np
import numpy.typing as npt


def _torch() -> Any:
    # import_module, not `import torch`: type checkers need not analyse torch (optional)
    try:
        torch = importlib.import_module("torch")
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError("converting to PyTorch objects needs torch installed") from None
    return torch


def is_tensor(obj: object) -> bool:
    """A ``torch.Tensor`` (or Parameter), without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def is_module(obj: object) -> bool:
    """A ``torch.nn.Module``, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_dtype(obj: object) -> bool:
    """A ``torch.dtype``, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.dtype)


def is_quantized(t: Any) -> bool:
    return is_tensor(t) and bool(t.is_quantized)


def to_numpy(t: Any, name: str) -> npt.NDArray[Any]:
    """A float torch tensor (any device, requires_grad or not) as a NumPy array; bfloat16
    becomes float32 exactly (NumPy has no bfloat16)."""
    torch = sys.modules["torch"]
    if t.is_quantized:
        raise TypeError(f"{name} is a quantized torch tensor; a float tensor is expected here "
                        f"(quantized tensors go to the convt.quantized layers)")
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.to(torch.float32)
    arr: npt.NDArray[Any] = t.numpy()
    return arr


def check_module(module: object, name: str, family: str, nd: int,
                 transposed: bool = True) -> None:
    """``module`` must be a torch module of class ``ConvTranspose{nd}d`` (or ``Conv{nd}d``)
    of ``family`` 'float' (torch.nn), 'quantized' (torch.ao.nn.quantized) or 'dynamic'
    (torch.ao.nn.quantized.dynamic): a TypeError naming ``name`` and what is expected otherwise
    (not the AttributeError or RuntimeError of reading attributes off the wrong object)."""
    torch = sys.modules.get("torch")
    cls_name = f"{'ConvTranspose' if transposed else 'Conv'}{nd}d"
    where = {"float": "torch.nn", "quantized": "torch.ao.nn.quantized",
             "dynamic": "torch.ao.nn.quantized.dynamic"}[family]
    ok = False
    if torch is not None and isinstance(module, torch.nn.Module):
        space = {"float": lambda: torch.nn, "quantized": lambda: torch.ao.nn.quantized,
                 "dynamic": lambda: torch.ao.nn.quantized.dynamic}[family]()
        cls = getattr(space, cls_name)
        ok = type(module) is cls if family != "float" else isinstance(module, cls)
        if family == "quantized":  # the dynamic classes subclass the static ones
            ok = ok or (isinstance(module, cls) and "dynamic" not in type(module).__module__)
    if not ok:
        raise TypeError(f"{name} must be a {where}.{cls_name}, got {_describe(module)}")


def _describe(obj: object) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__


def float_module_dtype(module: Any, name: str) -> None:
    """Float modules of any floating dtype convert (computation is float32); others not."""
    w = module.weight
    if not w.dtype.is_floating_point:
        raise TypeError(f"{name} has {w.dtype} weights; a floating-point module is expected")


def tensor_to_torch(a: npt.NDArray[Any]) -> Any:
    return _torch().from_numpy(np.ascontiguousarray(a))
