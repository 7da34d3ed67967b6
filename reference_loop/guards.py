"""Runtime guards: one set, fed by events, installed two ways.

The guards do not know where their events come from. The reference loop feeds them
through hooks on its own model, criterion and optimizer (`reference_loop.instrument`);
`auditor run` feeds them through global hooks on a user's script. Either way:

    guards = GuardSet()
    guards.on_loader(loader, role)                 # role: "train" | "val" | "test" | "eval" -> TRN203
    guards.watch_model(model)                      # names parameters for TRN408 (optional)
    guards.on_train_step(model)                    # one training forward             -> TRN103, TRN204
    guards.on_eval_forward(model, grad_enabled)    # one evaluation forward           -> TRN101, TRN102
    guards.on_loss_inputs("CrossEntropyLoss", input, target)                     # -> TRN301/302/303
    guards.on_loss_value(loss)                     # criterion output, training       -> TRN407 (+TRN401)
    guards.on_backward(tensor)                     # tensor `.backward()` was called on, before any
                                                   # GradScaler scaling                -> TRN401/402
      or: if guards.wants_loss_grad():             # same, measured by autograd (sampled steps)
              loss.register_hook(guards.loss_grad_hook(scale))
    guards.on_zero_grad(optimizer)                 #                                  -> TRN402
    guards.on_optimizer_step(optimizer)            # call *before* the step runs      -> TRN401/402/408
    guards.on_test_evaluated()                     # once per evaluation of the test split -> TRN204
    findings = guards.finish()                     # list[auditor.findings.Finding]

Every event takes an optional `where=(path, line)`; without it the guard finds the
user's frame itself (`locate.user_location`) when something is wrong, and once for
the loss and step events, so a healthy run walks the stack a couple of times at most.

Cost: the per-step events do Python attribute checks and one in-place add of the loss
into a device accumulator (about 10 us per step on CPU in all). Checks that need tensor
values (loss inputs, accumulation multipliers, gradient presence) run on the first
`sample_steps` steps and then every `sample_every`-th, and keep their results as
device tensors that are read once in `finish()`: no GPU sync inside the loop. The
non-finite loss check reads a device accumulator every `check_every` steps.

Each code fires at most once per GuardSet, with counts as evidence; `finish()` may be
called more than once (later calls return the findings accumulated so far).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

import torch

from auditor.findings import Finding
from reference_loop.codes import IDENTITY
from reference_loop.locate import Where, display_path, module_location, user_location

__all__ = [
    "GuardSet", "Where", "make_finding", "looks_like_probabilities", "looks_like_log_probabilities",
    "is_shuffled", "user_location", "module_location", "display_path",
]

EVAL_ROLES = ("val", "test", "eval")


def make_finding(code: str, message: str, where: Optional[Where] = None) -> Finding:
    """A runtime Finding with the identity of RULES.md, pointing at `where` (or the user's frame)."""
    name, severity = IDENTITY[code]
    path, line = where if where is not None else user_location(2)
    return Finding(code=code, name=name, severity=severity, path=path, line=line, column=1,
                   end_line=line, end_column=1, message=message, source="runtime")


# ----------------------------------------------------------------------------- pure helpers

def _class_dim(t: torch.Tensor) -> int:
    # CrossEntropyLoss/NLLLoss take (N, C, ...) or (C,): classes on dim 1, or dim 0 unbatched.
    return 1 if t.dim() >= 2 else 0


def probability_stats(t: torch.Tensor) -> torch.Tensor:
    """[min value, max |row sum - 1|] over the class dimension, as a device tensor (no sync)."""
    t = t.detach().float()
    return torch.stack([t.min(), (t.sum(_class_dim(t)) - 1).abs().max()])


def log_probability_stats(t: torch.Tensor) -> torch.Tensor:
    """[max value, max |logsumexp over classes|] as a device tensor (no sync)."""
    t = t.detach().float()
    return torch.stack([t.max(), torch.logsumexp(t, _class_dim(t)).abs().max()])


def unit_interval_stats(t: torch.Tensor) -> torch.Tensor:
    """[min value, max value] as a device tensor (no sync)."""
    t = t.detach().float()
    return torch.stack([t.min(), t.max()])


def looks_like_probabilities(t: torch.Tensor, tol: float = 1e-4) -> bool:
    """Rows non-negative and summing to 1 over the class dimension (what softmax returns)."""
    if t.numel() == 0 or not t.is_floating_point() or t.dim() == 0 or t.shape[_class_dim(t)] < 2:
        return False
    lo, dev = probability_stats(t).tolist()
    return lo >= -tol and dev <= tol


def looks_like_log_probabilities(t: torch.Tensor, tol: float = 1e-3) -> bool:
    """Rows non-positive with logsumexp 0 over the class dimension (what log_softmax returns)."""
    if t.numel() == 0 or not t.is_floating_point() or t.dim() == 0:
        return False
    hi, dev = log_probability_stats(t).tolist()
    return hi <= tol and dev <= tol


def is_shuffled(loader: Any) -> bool:
    """Does this DataLoader visit its samples in a random order?"""
    from torch.utils.data import RandomSampler, SubsetRandomSampler, WeightedRandomSampler

    samplers = [getattr(loader, "sampler", None)]
    batch_sampler = getattr(loader, "batch_sampler", None)
    samplers.append(getattr(batch_sampler, "sampler", None))
    for sampler in samplers:
        if isinstance(sampler, (RandomSampler, SubsetRandomSampler, WeightedRandomSampler)):
            return True
        # DistributedSampler and look-alikes carry a `shuffle` flag.
        if getattr(sampler, "shuffle", False) is True:
            return True
    return False


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


# ----------------------------------------------------------------------------- state records

@dataclass
class _Tally:
    """How often a condition was seen, out of how many chances, and where first."""

    hits: int = 0
    total: int = 0
    where: Optional[Where] = None

    def add(self, hit: bool, where: Optional[Where], skip: int = 3) -> None:
        self.total += 1
        if hit:
            self.hits += 1
            if self.where is None:
                self.where = where if where is not None else user_location(skip)


@dataclass
class _LossSamples:
    kind: str  # "probabilities" | "log_probabilities" | "unit_interval"
    stats: list = field(default_factory=list)
    where: Optional[Where] = None


@dataclass
class _Window:
    """What happened between two optimizer steps (only kept for sampled windows)."""

    forwards: int = 0
    backwards: int = 0
    multipliers: list = field(default_factory=list)  # per backward: d(backward tensor)/d(criterion output)
    zero_grad_discards: int = 0  # zero_grad() calls that threw away gradients of this window
    backward_after_discard: bool = False


class GuardSet:
    """The runtime guards of RULES.md, fed by events (see the module docstring)."""

    def __init__(self, *, sample_steps: int = 8, sample_every: int = 200, check_every: int = 64,
                 codes: Optional[Iterable[str]] = None) -> None:
        self.sample_steps = sample_steps
        self.sample_every = sample_every
        self.check_every = check_every
        self.codes = set(codes) if codes is not None else set(IDENTITY)
        self._findings: dict[str, Finding] = {}
        self._model_names: dict[int, str] = {}
        self._watched: list[tuple[str, torch.nn.Parameter]] = []
        self._train_forwards = 0
        self._steps = 0
        # TRN101/102/103
        self._train_mode = _Tally()
        self._eval_mode = _Tally()
        self._eval_grad = _Tally()
        # TRN204
        self._tests: list[Where] = []
        self._steps_at_test: Optional[int] = None
        self._train_after_test = _Tally()
        # TRN301/302/303
        self._loss_inputs: dict[str, _LossSamples] = {}
        self._loss_input_calls: dict[str, int] = {}
        # TRN407
        self._loss_acc: Optional[torch.Tensor] = None
        self._loss_count = 0
        self._last_finite_check = 0
        self._loss_where: Optional[Where] = None
        self._last_loss: Optional[torch.Tensor] = None
        # TRN401/402
        self._optimizers: set[int] = set()
        self._window = _Window()
        self._windows: list[_Window] = []
        # TRN408
        self._grad_seen: dict[int, list] = {}
        self._grad_where: Optional[Where] = None

    # ------------------------------------------------------------------ sampling
    def _sampled(self, n: int) -> bool:
        return n < self.sample_steps or (self.sample_every > 0 and n % self.sample_every == 0)

    @property
    def steps(self) -> int:
        """Optimizer steps seen so far."""
        return self._steps

    def _add(self, code: str, message: str, where: Optional[Where]) -> None:
        if code in self.codes and code not in self._findings:
            self._findings[code] = make_finding(code, message, where or ("<unknown>", 1))

    # ------------------------------------------------------------------ events
    def watch_model(self, model: torch.nn.Module) -> None:
        """Remember the trainable parameters by name, for TRN408's evidence."""
        seen = {id(p) for _, p in self._watched}
        for name, p in model.named_parameters():
            if p.requires_grad and id(p) not in seen:
                self._watched.append((name, p))
                seen.add(id(p))

    def on_loader(self, loader: Any, role: str, where: Optional[Where] = None) -> None:
        """A DataLoader used for `role`: validation and test data must not be shuffled (TRN203)."""
        if role in EVAL_ROLES and "TRN203" not in self._findings and is_shuffled(loader):
            sampler = type(getattr(loader, "sampler", None)).__name__
            self._add("TRN203", f"the {role} DataLoader visits its samples in random order ({sampler}); "
                      "evaluation batches should be deterministic: use shuffle=False",
                      where or user_location(2))

    def on_train_step(self, model: torch.nn.Module, where: Optional[Where] = None) -> None:
        """One training forward pass of `model` (a step or micro-step)."""
        self._train_forwards += 1
        self._window.forwards += 1
        self._train_mode.add(not model.training, where)
        if self._tests:
            self._train_after_test.add(True, where)

    def on_eval_forward(self, model: torch.nn.Module, grad_enabled: Optional[bool] = None,
                        where: Optional[Where] = None) -> None:
        """One evaluation forward pass: the model must be in eval mode with autograd off."""
        if grad_enabled is None:
            grad_enabled = torch.is_grad_enabled()
        self._eval_mode.add(model.training, where)
        self._eval_grad.add(grad_enabled, where)

    def on_loss_inputs(self, loss_name: str, input: torch.Tensor, target: Any = None,
                       where: Optional[Where] = None) -> None:
        """The input of a loss (sampled): probabilities into CE, sigmoid into BCEWithLogits, ..."""
        kind = {"CrossEntropyLoss": "probabilities", "cross_entropy": "probabilities",
                "NLLLoss": "log_probabilities", "nll_loss": "log_probabilities",
                "BCEWithLogitsLoss": "unit_interval",
                "binary_cross_entropy_with_logits": "unit_interval"}.get(loss_name)
        if kind is None or not isinstance(input, torch.Tensor) or not input.is_floating_point():
            return
        n = self._loss_input_calls.get(loss_name, 0)
        self._loss_input_calls[loss_name] = n + 1
        if not self._sampled(n) or input.numel() == 0:
            return
        if kind != "unit_interval" and (input.dim() == 0 or input.shape[_class_dim(input)] < 2):
            return
        record = self._loss_inputs.setdefault(loss_name, _LossSamples(kind))
        if record.where is None:
            record.where = where or user_location(2)
        stats = {"probabilities": probability_stats, "log_probabilities": log_probability_stats,
                 "unit_interval": unit_interval_stats}[kind]
        record.stats.append(stats(input))

    def on_loss_value(self, loss: torch.Tensor, where: Optional[Where] = None) -> None:
        """The criterion's output on a training batch: must stay finite (TRN407)."""
        if not isinstance(loss, torch.Tensor):
            return
        value = loss.detach()
        self._last_loss = value
        # A running sum is finite iff every term was: one async in-place add per step, read rarely.
        if value.dim():
            value = value.sum()
        if self._loss_acc is None:
            self._loss_acc = value.float().clone()
        else:
            self._loss_acc.add_(value)
        self._loss_count += 1
        if self._loss_where is None:
            self._loss_where = where or user_location(2)
        if self._loss_count % self.check_every == 0:
            self._check_finite(where)

    def _check_finite(self, where: Optional[Where]) -> None:
        if self._loss_acc is None or "TRN407" in self._findings:
            return
        total = float(self._loss_acc)
        if math.isfinite(total):
            self._last_finite_check = self._loss_count
            return
        self._add("TRN407", f"the training loss became {_fmt(total).lower()} between loss evaluations "
                  f"{self._last_finite_check + 1} and {self._loss_count} (optimizer step {self._steps}); "
                  "every later update is garbage", where or self._loss_where or user_location(3))

    def on_backward(self, tensor: Optional[torch.Tensor] = None, where: Optional[Where] = None) -> None:
        """`tensor.backward()` was called; pass the tensor before any GradScaler scaling.

        Its value divided by the last criterion value is the factor the micro-batch
        gradient is scaled by; k backward calls per step with factor 1 is TRN401.
        """
        window = self._window
        window.backwards += 1
        if window.zero_grad_discards:
            window.backward_after_discard = True
        if self._sampled(self._steps) and tensor is not None and self._last_loss is not None:
            window.multipliers.append(tensor.detach().float().sum() / self._last_loss.float().sum())

    def loss_grad_hook(self, scale: Callable[[], Any] | float = 1.0) -> Callable[[torch.Tensor], None]:
        """A hook for `loss.register_hook(...)` on a criterion output: counts the backward and
        records d(backward tensor)/d(loss), divided by `scale` (a GradScaler's scale, or a
        callable returning it)."""

        def hook(grad: torch.Tensor) -> None:
            window = self._window
            window.backwards += 1
            if window.zero_grad_discards:
                window.backward_after_discard = True
            if self._sampled(self._steps):
                s = scale() if callable(scale) else scale
                window.multipliers.append(grad.detach().float().sum() / s)

        return hook

    def wants_loss_grad(self) -> bool:
        """Whether the current step is sampled (register `loss_grad_hook` only then)."""
        return self._sampled(self._steps)

    def on_zero_grad(self, optimizer: Any = None, where: Optional[Where] = None) -> None:
        """Gradients were cleared. Clearing between backward calls of one window loses them (TRN402)."""
        if self._window.backwards > 0:
            self._window.zero_grad_discards += 1

    def on_optimizer_step(self, optimizer: Any, where: Optional[Where] = None) -> None:
        """Call just before `optimizer.step()` runs: closes the accumulation window."""
        self._optimizers.add(id(optimizer))
        if self._sampled(self._steps):
            if self._window.backwards:
                self._windows.append(self._window)
            self._sample_gradients(optimizer, where)
        self._window = _Window()
        self._steps += 1

    def _sample_gradients(self, optimizer: Any, where: Optional[Where]) -> None:
        params = self._watched or [
            (f"param_groups[{g}][{i}]", p) for g, group in enumerate(optimizer.param_groups)
            for i, p in enumerate(group["params"]) if p.requires_grad]
        for _, p in params:
            flags = self._grad_seen.setdefault(id(p), [])
            # None means "no gradient at all"; a device bool tensor is read in finish().
            flags.append(None if p.grad is None else p.grad.detach().ne(0).any())
        if self._grad_where is None:
            self._grad_where = where or user_location(3)

    def on_test_evaluated(self, where: Optional[Where] = None) -> None:
        """The test split was evaluated. More than once, or before training ended, is TRN204."""
        where = where or user_location(2)
        self._tests.append(where)
        self._steps_at_test = self._steps
        if len(self._tests) == 2:
            first = self._tests[0]
            self._add("TRN204", f"the test split was evaluated {len(self._tests)} times (first at "
                      f"{first[0]}:{first[1]}); choosing or tuning by test results makes them optimistic: "
                      "evaluate it once, after training", where)

    # ------------------------------------------------------------------ verdicts
    def finish(self) -> list[Finding]:
        """Evaluate what was sampled and return every finding (sorted by code)."""
        self._verdict_modes()
        self._verdict_loss_inputs()
        self._check_finite(None)
        self._verdict_accumulation()
        self._verdict_gradients()
        if self._train_after_test.hits and len(self._tests) < 2:
            first = self._tests[0]
            self._add("TRN204", f"the test split was evaluated at {first[0]}:{first[1]} and "
                      f"{self._train_after_test.hits} training forward passes followed; the test split "
                      "must be evaluated once, after training", self._train_after_test.where)
        return [self._findings[c] for c in sorted(self._findings)]

    @property
    def findings(self) -> list[Finding]:
        return [self._findings[c] for c in sorted(self._findings)]

    def _verdict_modes(self) -> None:
        t = self._train_mode
        if t.hits:
            self._add("TRN103", f"the model was in eval mode during {t.hits} of {t.total} training "
                      "forward passes: dropout and batch-norm updates were off; call model.train() "
                      "at the top of every epoch", t.where)
        t = self._eval_mode
        if t.hits:
            self._add("TRN101", f"the model was in training mode during {t.hits} of {t.total} evaluation "
                      "forward passes: dropout and batch statistics change the measured metric; call "
                      "model.eval() before evaluating", t.where)
        t = self._eval_grad
        if t.hits:
            self._add("TRN102", f"autograd was enabled during {t.hits} of {t.total} evaluation forward "
                      "passes, building graphs nobody uses; wrap evaluation in torch.inference_mode()",
                      t.where)

    def _verdict_loss_inputs(self) -> None:
        for name, rec in self._loss_inputs.items():
            if not rec.stats:
                continue
            values = torch.stack(rec.stats).cpu().tolist()
            n = len(values)
            if rec.kind == "probabilities":
                hits = [v for v in values if v[0] >= -1e-4 and v[1] <= 1e-4]
                if len(hits) == n:
                    worst = max(v[1] for v in hits)
                    self._add("TRN301", f"rows of the input to {name} are non-negative and sum to 1 "
                              f"(max deviation {worst:.1e}) in {n} of {n} sampled batches: the model "
                              f"already applies softmax and {name} applies log_softmax again; "
                              "return logits", rec.where)
            elif rec.kind == "log_probabilities":
                misses = [v for v in values if not (v[0] <= 1e-3 and v[1] <= 1e-3)]
                if len(misses) == n:
                    top = max(v[0] for v in values)
                    lse = max(v[1] for v in values)
                    self._add("TRN303", f"the input to {name} is not log-probabilities in {n} of {n} "
                              f"sampled batches (max value {_fmt(top)}, |logsumexp| over classes up to "
                              f"{_fmt(lse)}; log_softmax gives values <= 0 with logsumexp 0): apply "
                              "log_softmax first, or use CrossEntropyLoss on logits", rec.where)
            elif rec.kind == "unit_interval":
                lo = min(v[0] for v in values)
                hi = max(v[1] for v in values)
                if lo >= 0.0 and hi <= 1.0 and n >= 2:
                    self._add("TRN302", f"every input to {name} lies in [{_fmt(lo)}, {_fmt(hi)}] over "
                              f"{n} sampled batches: these look like sigmoid outputs, and {name} applies "
                              "sigmoid itself; return logits", rec.where)

    def _verdict_accumulation(self) -> None:
        # With several optimizers (GANs, multi-task) windows interleave: stay silent.
        if len(self._optimizers) != 1:
            return
        windows = [w for w in self._windows if w.backwards > 1 and (w.forwards in (0, w.backwards))]
        discards = [w for w in self._windows if w.zero_grad_discards and w.backward_after_discard]
        if discards and len(discards) * 2 >= len(self._windows):
            w = discards[0]
            self._add("TRN402", f"zero_grad() cleared gradients in the middle of an accumulation window in "
                      f"{len(discards)} of {len(self._windows)} sampled optimizer steps ({w.backwards} "
                      f"backward calls, gradients cleared {w.zero_grad_discards} times before the step): only "
                      "the last micro-batch reached the update; clear gradients after optimizer.step()",
                      self._grad_where)
            return
        measured = [w for w in windows if len(w.multipliers) == w.backwards]
        if not measured:
            return
        values = [torch.stack(w.multipliers).cpu().tolist() for w in measured]
        unscaled = [v for v in values if all(abs(m - 1.0) <= 1e-3 for m in v)]
        if len(unscaled) == len(values):
            k = len(values[0])
            self._add("TRN401", f"{len(values)} sampled optimizer steps each accumulated {k} backward calls "
                      f"whose loss reached backward() unscaled (gradient factor {values[0][0]:.3f}, "
                      f"expected 1/{k} = {1 / k:.3f}): the update is {k}x too large; divide the loss by "
                      "the number of micro-batches", self._grad_where)

    def _verdict_gradients(self) -> None:
        if not self._grad_seen:
            return
        names = {id(p): n for n, p in self._watched}
        steps = 0
        never: list[str] = []
        for pid, flags in self._grad_seen.items():
            steps = max(steps, len(flags))
            tensors = [f for f in flags if f is not None]
            got = bool(torch.stack(tensors).any().item()) if tensors else False
            if not got:
                never.append(names.get(pid, f"parameter #{len(never)}"))
        if never:
            shown = ", ".join(never[:6]) + (f" and {len(never) - 6} more" if len(never) > 6 else "")
            self._add("TRN408", f"{len(never)} trainable parameter{'s' if len(never) > 1 else ''} received "
                      f"no gradient in {steps} sampled optimizer steps: {shown}; they never learn "
                      "(unused in forward, or detached): remove them or set requires_grad=False",
                      self._grad_where)


# ----------------------------------------------------------------------------- hosts that judge late

def record_settled_forward(guards: GuardSet, *, trained: bool, model_training: bool, grad_enabled: bool,
                           where: Optional[Where]) -> None:
    """Feed TRN101/102/103 for a forward pass whose role is known only afterwards.

    `auditor run` learns whether a forward was training only when its output reaches
    backward() (or never does), so it cannot call on_train_step/on_eval_forward at the
    time; this records the mode and grad state the forward ran with, without touching
    the accumulation window (whose forwards were counted, or not, at the time).
    """
    if trained:
        guards._train_mode.add(not model_training, where)
    else:
        guards._eval_mode.add(model_training, where)
        guards._eval_grad.add(grad_enabled, where)
