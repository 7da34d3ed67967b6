"""The reference training loop: every step done right, readable top to bottom.

    result = fit(model, (X_train, y_train), (X_val, y_val), epochs=30)
    metrics = test(result, (X_test, y_test))      # once, at the end

Guards are installed beside the loop through hooks (`instrument`), and probes run
before it (`preflight`); the loop itself only trains.
"""

from __future__ import annotations

import sys
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import torch
from torch.utils.data import DataLoader

from auditor.findings import Finding
from reference_loop import distributed, instrument
from reference_loop.data import DataLike, as_dataset, check_compatible, eval_loader, train_loader
from reference_loop.device import Precision, autocast, choose_precision, seed_everything
from reference_loop.guards import GuardSet
from reference_loop.locate import module_location, user_location
from reference_loop.preflight import run_probes
from reference_loop.probes import ProbeResult
from reference_loop.steps import batch_metrics, micro_step, no_sync, optimizer_step, windows

OptimizerSpec = Union[None, torch.optim.Optimizer, Callable[[torch.nn.Module], torch.optim.Optimizer]]


@dataclass
class FitResult:
    model: torch.nn.Module
    history: list[dict[str, float]]
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    findings: list[Finding]
    probes: list[ProbeResult]
    report: dict[str, Any]
    guards: GuardSet = field(repr=False)
    device: torch.device = torch.device("cpu")
    test_metrics: Optional[dict[str, float]] = None
    where: Optional[tuple[str, int]] = None  # the line that called fit(): findings without a better place


@dataclass
class TestResult:
    metrics: dict[str, float]
    findings: list[Finding]

    __test__ = False  # not a pytest test class, despite the name

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]


def fit(model: torch.nn.Module, train: DataLike, val: DataLike, *, loss: Optional[Callable] = None,
        optimizer: OptimizerSpec = None, lr: float = 1e-3, epochs: int = 20, batch_size: int = 64,
        accumulation_steps: int = 1, amp: Union[bool, str] = "auto", grad_clip: Optional[float] = None,
        scheduler: Optional[Callable[[torch.optim.Optimizer], Any]] = None, device: str = "auto", seed: int = 0,
        patience: Optional[int] = None, out_dir: Optional[str] = None, probes: bool = True, guards: bool = True,
        progress: Optional[bool] = None, test_data: Optional[DataLike] = None) -> FitResult:
    """Train `model` on `train`, select the best epoch on `val`, and audit the run.

    `optimizer`: None (AdamW with `lr`), a callable `model -> optimizer`, or an optimizer
    already built on the model's parameters. `scheduler`: a callable `optimizer ->
    scheduler`, stepped after every optimizer step. `test_data` is only given to the
    overlap probe (TRN207); evaluate it with `test(result, test_data)` after training.
    """
    where = user_location(2)
    model_where = module_location(model) or where
    # --- setup: one seed, one device, data on loaders that suit each split
    seed_everything(seed)
    dist = distributed.setup(device)
    dev = dist.device
    train_ds, val_ds = as_dataset(train, "training data"), as_dataset(val, "validation data")
    model.to(dev)
    check_compatible(model, train_ds, dev)
    criterion = loss if loss is not None else torch.nn.CrossEntropyLoss()
    opt = _build_optimizer(optimizer, model, lr)
    sched = scheduler(opt) if scheduler is not None else None
    precision = choose_precision(dev, amp)
    scaler = torch.amp.GradScaler(dev.type) if precision.use_scaler else None
    train_dl = train_loader(train_ds, batch_size, seed, dist)
    val_dl = eval_loader(val_ds, batch_size, dist)

    # --- before the run: probes on copies of the model (TRN207, TRN9xx)
    probe_results: list[ProbeResult] = []
    if probes:
        evals = {"validation": val_ds} | ({"test": as_dataset(test_data, "test data")} if test_data is not None else {})
        probe_results = run_probes(model, criterion, opt, train_ds, evals, accumulation_steps=accumulation_steps,
                                   device=dev, seed=seed, model_where=model_where, data_where=where)

    # --- guards beside the loop
    guard = GuardSet()
    loss_name = instrument.loss_name(criterion)
    hooks = instrument.install(guard, model, criterion, opt, scaler, model_where=model_where, where=where) if guards else None
    if hooks is not None:
        criterion, train_dl, val_dl = hooks.criterion, hooks.loader(train_dl, "train"), hooks.loader(val_dl, "val")
    net = _ddp(model, dev) if dist.enabled else model
    config = {"epochs": epochs, "batch_size": batch_size, "accumulation_steps": accumulation_steps,
              "grad_clip": grad_clip, "seed": seed, "patience": patience, "lr": opt.param_groups[0]["lr"],
              "device": str(dev), "precision": precision.label, "world_size": dist.world_size,
              "optimizer": type(opt).__name__, "loss": loss_name, "guards": guards}

    # --- the loop (hooks come off and the process group goes away even if it raises)
    history: list[dict[str, float]] = []
    best_state, best_epoch, best_score, stale = _snapshot(model), 0, -float("inf"), 0
    started = time.perf_counter()
    bar = _progress(progress, epochs) if dist.is_main else None
    try:
        for epoch in range(epochs):
            if dist.enabled:
                train_dl.sampler.set_epoch(epoch)  # a different shuffle each epoch, the same on every rank
            model.train()
            loss_sum, seen = torch.zeros((), device=dev), 0
            n_batches = len(train_dl)
            for i, (x, y) in enumerate(train_dl):
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                window_len, last_in_window = windows(n_batches, accumulation_steps, i)
                with no_sync(net, last_in_window):  # DDP: all-reduce gradients once per window
                    loss = micro_step(net, criterion, x, y, window_len, scaler, precision)
                loss_sum.add_(loss.float(), alpha=len(y))  # on the device: no sync per step
                seen += len(y)
                if last_in_window:
                    optimizer_step(model, opt, scaler, grad_clip, sched)
            val = _evaluate(model, val_dl, criterion, dev, precision, dist)
            row = {"epoch": epoch + 1, "train_loss": distributed.mean_over_ranks(loss_sum, seen, dist),
                   "val_loss": val["loss"], "val_accuracy": val["accuracy"], "lr": opt.param_groups[0]["lr"],
                   "seconds": round(time.perf_counter() - started, 3)}
            history.append(row)
            if _score(val) > best_score:  # best checkpoint by validation, as a state_dict copy
                best_state, best_epoch, best_score, stale = _snapshot(model), epoch + 1, _score(val), 0
            else:
                stale += 1
            _show(bar, row)
            if distributed.broadcast_flag(patience is not None and stale >= patience, dist):
                break  # early stopping on validation
    except BaseException:
        net = None  # before the group goes: see the end of this function
        distributed.teardown(dist)
        raise
    finally:
        if bar is not None:
            bar.close()
        if hooks is not None:
            hooks.remove()

    # --- after the run: best weights back in place, findings, report
    model.load_state_dict(best_state)
    findings = [f for f in (r.finding() for r in probe_results) if f is not None] + guard.finish()
    result = FitResult(model, history, best_state, best_epoch, findings, probe_results, {}, guard, dev, where=where)
    result.report = _report_payload(result, config)
    if out_dir is not None and dist.is_main:
        from reference_loop.report import write_report

        write_report(result, out_dir)
    _FIT_OF[model] = result
    # DDP's reducer holds the process group too, and frees it holding the GIL. Were it the
    # last holder, the group's destructor would wait for a gloo worker thread that needs
    # the GIL to free a finished collective's tensor: a deadlock. So DDP goes first, and
    # the group dies in destroy_process_group, which waits with the GIL released.
    net = None
    distributed.teardown(dist)
    return result


def _build_optimizer(spec: OptimizerSpec, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    if spec is None:
        return torch.optim.AdamW(model.parameters(), lr=lr)
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    return spec(model)


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights (not a reference that later steps would overwrite)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _score(metrics: dict[str, float]) -> float:
    """Higher is better: validation accuracy where defined, else negative validation loss."""
    acc = metrics.get("accuracy", float("nan"))
    return acc if acc == acc else -metrics["loss"]


def _evaluate(model: torch.nn.Module, loader: Any, criterion: Callable, dev: torch.device, precision: Precision,
              dist: distributed.Dist) -> dict[str, float]:
    """Eval mode, no autograd, every sample once; train mode restored afterwards."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, device=dev)
    with torch.inference_mode():
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with autocast(dev, precision):
                out = model(x)
                loss = criterion(out, y)
            totals += batch_metrics(out.float(), y, loss)
    model.train(was_training)
    total_loss, correct, n = distributed.all_reduce_sum(totals, dist).tolist()
    return {"loss": total_loss / max(n, 1), "accuracy": correct / max(n, 1), "n": int(n)}


def evaluate(model: torch.nn.Module, data: Union[DataLike, DataLoader], *, loss: Optional[Callable] = None,
             batch_size: int = 256, device: Union[str, torch.device, None] = None) -> dict[str, float]:
    """Loss and accuracy of `model` on `data`, evaluated correctly (eval mode, inference mode)."""
    first = next(model.parameters(), None)
    dev = torch.device(device) if device not in (None, "auto") else (first.device if first is not None else torch.device("cpu"))
    dist = distributed.Dist(device=dev)
    loader = data if isinstance(data, DataLoader) else eval_loader(as_dataset(data, "evaluation data"), batch_size, dist)
    return _evaluate(model, loader, loss or torch.nn.CrossEntropyLoss(), dev, Precision(None, False), dist)


# A test evaluation counted per model (weakly: it dies with the model) when no FitResult is given.
_FIT_OF: "weakref.WeakKeyDictionary[torch.nn.Module, FitResult]" = weakref.WeakKeyDictionary()
_TEST_GUARDS: "weakref.WeakKeyDictionary[torch.nn.Module, GuardSet]" = weakref.WeakKeyDictionary()


def test(result_or_model: Union[FitResult, torch.nn.Module], test_data: DataLike, *, loss: Optional[Callable] = None,
         batch_size: int = 256, out_dir: Optional[str] = None) -> TestResult:
    """Evaluate the test split: once per fit. A second call is a TRN204 finding, added to the result."""
    where = user_location(2)
    if isinstance(result_or_model, FitResult):
        result: Optional[FitResult] = result_or_model
        model = result_or_model.model
    else:
        model = result_or_model
        result = _FIT_OF.get(model)
    guard = result.guards if result is not None else _TEST_GUARDS.setdefault(model, GuardSet())
    guard.on_test_evaluated(where)
    metrics = evaluate(model, test_data, loss=loss, batch_size=batch_size)
    findings = guard.finish()
    new = [f for f in findings if f.code == "TRN204"]
    if result is not None:
        result.test_metrics = metrics
        result.findings += [f for f in new if f not in result.findings]
        result.report["test"] = metrics
        result.report["findings"] = [f.to_dict() for f in result.findings]
        if out_dir is not None and distributed.is_main_process():
            from reference_loop.report import write_report

            write_report(result, out_dir)
    return TestResult(metrics, new)


test.__test__ = False  # type: ignore[attr-defined]  # pytest must not collect it when imported


def _progress(enabled: Optional[bool], epochs: int):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=epochs, unit="epoch", file=sys.stderr, leave=False)


def _show(bar: Any, row: dict[str, float]) -> None:
    if bar is not None:
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_loss=f"{row['val_loss']:.4f}",
                        val_acc=f"{row['val_accuracy']:.4f}")
        bar.update(1)


def _report_payload(result: FitResult, config: dict[str, Any]) -> dict[str, Any]:
    """What report.json holds: configuration, history, best epoch, probes and findings."""
    import platform

    return {"config": config, "history": result.history, "best_epoch": result.best_epoch,
            "best": result.history[result.best_epoch - 1] if result.best_epoch > 0 else None,
            "probes": [p.to_dict() for p in result.probes], "findings": [f.to_dict() for f in result.findings],
            "test": result.test_metrics,
            "environment": {"torch": torch.__version__, "python": platform.python_version()}}


def _ddp(model: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    device_ids = [dev.index] if dev.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
