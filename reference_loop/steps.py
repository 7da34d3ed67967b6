"""The steps of the loop, each one done right, and shared with the probes that test them."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional

import torch

from reference_loop.device import Precision, autocast


def micro_step(model: torch.nn.Module, criterion: Callable, x: torch.Tensor, y: torch.Tensor,
               window_len: int, scaler: Optional[torch.amp.GradScaler] = None,
               precision: Precision = Precision(None, False)) -> torch.Tensor:
    """Forward and backward of one micro-batch; returns the unscaled loss, detached.

    The loss is divided by the number of micro-batches in the current accumulation
    window (the last, shorter window too), so the accumulated gradient is the mean over
    the window, as if it had been one batch.
    """
    return micro_step_with_output(model, criterion, x, y, window_len, scaler, precision)[0]


def micro_step_with_output(model: torch.nn.Module, criterion: Callable, x: torch.Tensor, y: torch.Tensor,
                           window_len: int, scaler: Optional[torch.amp.GradScaler] = None,
                           precision: Precision = Precision(None, False)) -> tuple[torch.Tensor, torch.Tensor]:
    """`micro_step`, also returning the model's output (detached) for the running train metrics."""
    with autocast(x.device, precision):
        out = model(x)
        loss = criterion(out, y)
    scaled = loss / window_len if window_len > 1 else loss  # no extra autograd node when k = 1
    (scaler.scale(scaled) if scaler is not None else scaled).backward()
    return loss.detach(), out.detach() if isinstance(out, torch.Tensor) else out


def optimizer_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   scaler: Optional[torch.amp.GradScaler], grad_clip: Optional[float],
                   scheduler: Any = None) -> bool:
    """Unscale before clipping, step through the scaler, then the scheduler; clear gradients.

    Returns whether the parameters were updated: a GradScaler skips the step when the
    gradients hold inf/NaN (and lowers its scale), and then the scheduler must not advance
    either, or the schedule runs ahead of the updates actually made.
    """
    if grad_clip is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the loss-scaled ones
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    stepped = True
    if scaler is not None:
        before = scaler.get_scale()
        scaler.step(optimizer)
        scaler.update()
        stepped = scaler.get_scale() >= before  # the scale only drops on a skipped step (one sync per step, fp16 only)
    else:
        optimizer.step()
    if scheduler is not None and stepped:
        scheduler.step()  # after optimizer.step(): the first update uses the initial rate
    optimizer.zero_grad(set_to_none=True)
    return stepped


def windows(n_batches: int, k: int, i: int) -> tuple[int, bool]:
    """For batch `i` of `n_batches`: (length of its accumulation window, is it the window's last)."""
    start = i - i % k
    length = min(k, n_batches - start)
    return length, i == start + length - 1


def no_sync(model: torch.nn.Module, sync: bool):
    """Under DDP, all-reduce gradients only on the last micro-batch of a window."""
    if not sync and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()
