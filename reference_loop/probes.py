"""Probes: short experiments on copies of the user's model before the run (TRN901-TRN905).

Each probe works on a deep copy of the model (and of the optimizer), under a forked
RNG, so the run that follows is exactly the run it would have been without them. Each
returns a ProbeResult with a verdict and the values it measured; a failed probe
becomes a Finding.
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from auditor.findings import Finding
from reference_loop.codes import IDENTITY
from reference_loop.guards import looks_like_probabilities, make_finding
from reference_loop.locate import Where
from reference_loop.steps import micro_step


@dataclass
class ProbeResult:
    code: str
    verdict: str  # "pass" | "fail" | "skipped" | "inconclusive"
    message: str
    measured: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    where: Optional[Where] = None

    @property
    def name(self) -> str:
        return IDENTITY[self.code][0]

    def finding(self) -> Optional[Finding]:
        return make_finding(self.code, self.message, self.where or ("<unknown>", 1)) if self.verdict == "fail" else None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "verdict": self.verdict, "message": self.message,
                "measured": self.measured, "seconds": round(self.seconds, 3)}


def _timed(fn: Callable[..., ProbeResult]) -> Callable[..., ProbeResult]:
    def run(*args: Any, **kwargs: Any) -> ProbeResult:
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(kwargs.pop("seed", 0))
            result = fn(*args, **kwargs)
        result.seconds = time.perf_counter() - start
        return result

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _loss_name(criterion: Callable) -> str:
    return type(criterion).__name__ if isinstance(criterion, torch.nn.Module) else getattr(criterion, "__name__", "")


def expected_initial_loss(criterion: Callable, out: torch.Tensor, y: torch.Tensor) -> Optional[tuple[float, str]]:
    """The loss of a model that knows nothing yet, and how it was derived."""
    name = _loss_name(criterion).lower()
    if ("crossentropy" in name or "cross_entropy" in name or "nll" in name) and out.dim() >= 2:
        c = out.shape[1]
        return math.log(c), f"ln({c}) for {c} classes"
    if "bcewithlogits" in name or "binary_cross_entropy_with_logits" in name:
        return math.log(2), "ln(2) for a binary target"
    return None


@_timed
def initial_loss(model: torch.nn.Module, criterion: Callable, x: torch.Tensor, y: torch.Tensor,
                 *, where: Optional[Where] = None) -> ProbeResult:
    """TRN901: the loss at initialization should be close to its chance value (ln C)."""
    model = copy.deepcopy(model).eval()
    with torch.inference_mode():
        out = model(x)
        loss = float(criterion(out, y))
    expected = expected_initial_loss(criterion, out, y)
    if expected is None:
        return ProbeResult("TRN901", "skipped", f"no expected initial value known for {_loss_name(criterion)}",
                           {"initial_loss": loss}, where=where)
    value, how = expected
    measured = {"initial_loss": round(loss, 4), "expected": round(value, 4)}
    # Far off means an over-confident initialization (large logits) or a broken output.
    if not math.isfinite(loss) or loss > 1.5 * value + 0.1 or loss < 0.5 * value:
        return ProbeResult("TRN901", "fail", f"the loss at initialization is {loss:.3f} on {len(y)} training "
                           f"samples, expected about {value:.3f} ({how}): the initial outputs are "
                           "over-confident or broken; scale down the last layer's initial weights", measured, where=where)
    return ProbeResult("TRN901", "pass", f"initial loss {loss:.3f}, expected {value:.3f} ({how})", measured, where=where)


@_timed
def overfit_batch(model: torch.nn.Module, criterion: Callable, x: torch.Tensor, y: torch.Tensor, *,
                  max_steps: int = 300, lr: float = 3e-3, budget_s: float = 5.0,
                  where: Optional[Where] = None) -> ProbeResult:
    """TRN902: a model that trains at all drives the loss on one small batch close to zero.

    Eval mode (dropout off, deterministic) with autograd on, Adam, until the loss is
    below 5% of where it started or the steps run out.
    """
    model = copy.deepcopy(model).eval()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return ProbeResult("TRN902", "skipped", "the model has no trainable parameters", where=where)
    opt = torch.optim.Adam(params, lr=lr)
    start = time.perf_counter()
    first = last = float("nan")
    target = math.inf
    steps = 0
    for steps in range(1, max_steps + 1):
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = criterion(out, y)
        loss.backward()
        opt.step()
        last = float(loss.detach())
        if steps == 1:
            first = last
            target = max(0.05 * first, 1e-4)
        if last <= target or not math.isfinite(last) or time.perf_counter() - start > budget_s:
            break
    measured = {"batch": len(y), "steps": steps, "initial_loss": round(first, 4), "final_loss": round(last, 4),
                "target": round(target, 4)}
    if last <= target:
        return ProbeResult("TRN902", "pass", f"loss on one batch of {len(y)} went from {first:.3f} to {last:.3g} "
                           f"in {steps} steps", measured, where=where)
    if steps < max_steps and math.isfinite(last):
        return ProbeResult("TRN902", "inconclusive", f"time budget of {budget_s:.0f}s spent after {steps} steps "
                           f"(loss {first:.3f} -> {last:.3f})", measured, where=where)
    with torch.no_grad():
        hint = (" The model's outputs are probabilities (rows sum to 1): a softmax before "
                f"{_loss_name(criterion)} puts a floor under the loss." if looks_like_probabilities(model(x)) else "")
    return ProbeResult("TRN902", "fail", f"the model cannot fit one batch of {len(y)} samples: after {steps} Adam "
                       f"steps (lr {lr:g}) the loss is {last:.3f} (from {first:.3f}; a model that can learn reaches "
                       f"below {target:.3f}).{hint}", measured, where=where)


@_timed
def batch_independence(model: torch.nn.Module, x: torch.Tensor, *, where: Optional[Where] = None) -> ProbeResult:
    """TRN903: in eval mode, sample 0's output must not depend on the other samples of its batch."""
    if len(x) < 3:
        return ProbeResult("TRN903", "skipped", "needs a batch of at least 3 samples", where=where)
    model = copy.deepcopy(model).eval()
    if x.is_floating_point():
        # Backprop from sample 0's output to the inputs: other rows' gradients must be exactly 0.
        x = x.clone().requires_grad_(True)
        out = model(x)
        out = out[0] if isinstance(out, torch.Tensor) else out
        out.float().sum().backward()
        grad = x.grad.reshape(len(x), -1).abs().max(1).values
        own, others = float(grad[0]), grad[1:]
        leaking = int((others > 1e-6 * max(own, 1e-12)).sum())
        measured = {"batch": len(x), "own_grad": own, "max_other_grad": float(others.max()), "leaking": leaking}
        evidence = (f"the output of sample 0 has a gradient with respect to {leaking} of the {len(x) - 1} other "
                    f"samples of the batch (max |d out_0 / d x_j| = {float(others.max()):.3g}, vs {own:.3g} for its "
                    "own input)")
    else:
        # Integer inputs (token ids) cannot carry a gradient: replace the other rows by copies of
        # row 0 instead (a reordering would miss order-invariant mixing such as a batch mean).
        with torch.inference_mode():
            a = model(x)[0]
            replaced = x.clone()
            replaced[1:] = x[:1]
            diff = float((model(replaced)[0].float() - a.float()).abs().max())
        leaking = int(diff > 1e-5 * max(1.0, float(a.abs().max())))
        measured = {"batch": len(x), "max_change": diff}
        evidence = f"replacing the other samples of the batch changed sample 0's output by up to {diff:.3g}"
    if leaking:
        return ProbeResult("TRN903", "fail", f"{evidence}: the model mixes samples across the batch (a reshape "
                           "or view over the batch dimension, or a reduction over dim 0)", measured, where=where)
    return ProbeResult("TRN903", "pass", "each sample's output depends on that sample only", measured, where=where)


def _copy_with_optimizer(model: torch.nn.Module, optimizer: torch.optim.Optimizer):
    """A deep copy of the model and a fresh optimizer of the same kind over the same parameters."""
    clone = copy.deepcopy(model)
    mapping = {id(p): q for p, q in zip(model.parameters(), clone.parameters())}
    groups = []
    for group in optimizer.param_groups:
        g = {k: v for k, v in group.items() if k != "params"}
        g["params"] = [mapping[id(p)] for p in group["params"] if id(p) in mapping]
        groups.append(g)
    # Each group carries its own hyperparameters; pass only the defaults the constructor takes.
    accepted = inspect.signature(type(optimizer).__init__).parameters
    defaults = {k: v for k, v in optimizer.defaults.items() if k in accepted}
    return clone, type(optimizer)(groups, **defaults)


@_timed
def parameters_updated(model: torch.nn.Module, criterion: Callable, optimizer: torch.optim.Optimizer,
                       x: torch.Tensor, y: torch.Tensor, *, step_fn: Callable = micro_step,
                       where: Optional[Where] = None) -> ProbeResult:
    """TRN904: every parameter that gets a gradient must change after an optimizer step."""
    model, opt = _copy_with_optimizer(model, optimizer)
    model.train()
    names = {id(p): n for n, p in model.named_parameters()}
    in_optimizer = {id(p) for g in opt.param_groups for p in g["params"]}
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    opt.zero_grad(set_to_none=True)
    step_fn(model, criterion, x, y, 1)
    with_grad = {names[id(p)] for p in model.parameters() if p.grad is not None and bool(p.grad.ne(0).any())}
    opt.step()
    stale = [n for n, p in model.named_parameters() if n in with_grad and torch.equal(before[n], p.detach())]
    measured = {"with_gradient": len(with_grad), "not_updated": stale}
    if not stale:
        return ProbeResult("TRN904", "pass", f"all {len(with_grad)} parameters with a gradient changed after one "
                           "optimizer step", measured, where=where)
    left_out = [n for n in stale if id(dict(model.named_parameters())[n]) not in in_optimizer]
    shown = ", ".join(stale[:6]) + (f" and {len(stale) - 6} more" if len(stale) > 6 else "")
    reason = (f"{len(left_out)} of them are not in the optimizer's param_groups: build the optimizer from "
              "model.parameters()" if left_out else "their learning rate or update is zero")
    return ProbeResult("TRN904", "fail", f"{len(stale)} of {len(with_grad)} parameters with a nonzero gradient did not "
                       f"change after optimizer.step(): {shown}; {reason}", measured, where=where)


def _gradients(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1).double()
                      for p in model.parameters() if p.requires_grad])


@_timed
def accumulation_matches(model: torch.nn.Module, criterion: Callable, x: torch.Tensor, y: torch.Tensor, k: int, *,
                         step_fn: Callable = micro_step, where: Optional[Where] = None) -> ProbeResult:
    """TRN905: k accumulated micro-batches give the gradient of the same samples as one batch."""
    if k < 2:
        return ProbeResult("TRN905", "skipped", "no gradient accumulation (accumulation_steps=1)", where=where)
    m = len(x) // k
    if m < 1:
        return ProbeResult("TRN905", "skipped", f"needs at least {k} samples", where=where)
    x, y = x[: m * k], y[: m * k]
    model = copy.deepcopy(model).eval()  # eval: dropout off, batch norm fixed, so the two paths compare
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        model.zero_grad(set_to_none=True)
        step_fn(model, criterion, x, y, 1)
        full = _gradients(model)
        model.zero_grad(set_to_none=True)
        for i in range(k):
            step_fn(model, criterion, x[i * m:(i + 1) * m], y[i * m:(i + 1) * m], k)
        accumulated = _gradients(model)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
    norm = float(full.norm())
    rel = float((accumulated - full).norm()) / max(norm, 1e-12)
    ratio = float(accumulated.norm()) / max(norm, 1e-12)
    measured = {"k": k, "micro_batch": m, "relative_error": rel, "norm_ratio": ratio}
    if rel > 1e-3:
        return ProbeResult("TRN905", "fail", f"the gradient accumulated over {k} micro-batches of {m} differs from "
                           f"the gradient of the same {m * k} samples as one batch: relative error {rel:.3g}, norm "
                           f"ratio {ratio:.3g} (expected 1); the effective learning rate changes with "
                           "accumulation_steps (a loss with reduction='sum', or a loss not divided by the window)",
                           measured, where=where)
    return ProbeResult("TRN905", "pass", f"accumulated and full-batch gradients agree (relative error {rel:.1e})",
                       measured, where=where)
