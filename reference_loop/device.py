"""Choose the device once, and the mixed precision it supports."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch


class DeviceError(ValueError):
    """A device that this machine does not have: the message is one line for the user."""


def seed_everything(seed: int) -> None:
    """Python, numpy and torch (every device) from one seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def available_devices() -> list[str]:
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        names += [f"xpu:{i}" for i in range(xpu.device_count())]
    return names


def choose_device(spec: Union[str, torch.device, None] = "auto") -> torch.device:
    """`auto`: the current accelerator (CUDA, MPS, XPU, ...) if there is one, else CPU.

    An explicit device (`cuda:1`, `mps`, `cpu`) must exist: failing now beats failing
    at the first `.to()` in the middle of a run.
    """
    if spec is None or str(spec) == "auto":
        accelerator = getattr(torch, "accelerator", None)
        if accelerator is not None and accelerator.is_available():
            acc = accelerator.current_accelerator()
            index = accelerator.current_device_index() if acc.type != "mps" else None
            return torch.device(acc.type, index) if index is not None else torch.device(acc.type)
        for name in available_devices():
            if name != "cpu":
                return torch.device(name)
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"unknown device {str(spec)!r} ({exc}); available: {', '.join(available_devices())}") from None
    available = available_devices()
    wanted = str(device) if device.index is not None or device.type in ("cpu", "mps") else f"{device.type}:0"
    if wanted not in available:
        raise DeviceError(f"device {str(spec)!r} does not exist on this machine; available: {', '.join(available)}")
    return device


@dataclass(frozen=True)
class Precision:
    """Autocast dtype (None: full precision) and whether a GradScaler is needed (fp16 only)."""

    dtype: Optional[torch.dtype]
    use_scaler: bool

    @property
    def label(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, str(self.dtype))


def choose_precision(device: torch.device, amp: Union[bool, str, None] = "auto") -> Precision:
    """`auto`: bf16 autocast on CUDA where supported, else fp16 with a GradScaler on CUDA;
    full precision elsewhere (CPU/MPS autocast is slower or less mature than it is useful).
    `True` means auto on CUDA and bf16 elsewhere; "bf16"/"fp16"/"off" are explicit."""
    choice = {True: "on", False: "off", None: "off"}.get(amp, str(amp).lower())  # type: ignore[arg-type]
    if choice not in ("auto", "on", "off", "bf16", "fp16", "fp32"):
        raise ValueError(f"amp must be auto, on, off, bf16 or fp16, not {amp!r}")
    if choice in ("off", "fp32"):
        return Precision(None, False)
    if choice in ("auto", "on"):
        if device.type == "cuda":
            choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif choice == "auto":
            return Precision(None, False)
        else:
            choice = "bf16"
    if choice == "fp16":
        # A GradScaler keeps small fp16 gradients from flushing to zero; bf16 has fp32's range.
        return Precision(torch.float16, device.type == "cuda")
    return Precision(torch.bfloat16, False)


def autocast(device: torch.device, precision: Precision):
    """The autocast context for forward passes (a no-op in full precision)."""
    if precision.dtype is None:
        return contextlib.nullcontext()  # cheaper than entering a disabled autocast every step
    return torch.autocast(device.type, dtype=precision.dtype)
