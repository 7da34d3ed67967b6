"""The reference training loop: every step done right, readable top to bottom.

    result = fit(model, (X_train, y_train), (X_val, y_val), epochs=30)
    metrics = test(result, (X_test, y_test))      # once, at the end

Guards are installed beside the loop through hooks (`instrument`), and probes run
before it (`preflight`); the loop itself only trains.
"""

from __future__ import annotations

import math
import sys
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import torch
from torch.utils.data import DataLoader

from auditor.findings import Finding
from reference_loop import checkpoint, distributed, evaluation, instrument
from reference_loop.data import DataError, DataLike, as_dataset, check_compatible, eval_loader, train_loader
from reference_loop.device import Precision, choose_precision, seed_everything
from reference_loop.guards import GuardSet, make_finding
from reference_loop.locate import module_location, user_location
from reference_loop.objective import (DIRECTION, Objective, TargetError, apply_targets, batch_totals, check_monitor,
                                      metrics_of, resolve, totals_size, with_count)
from reference_loop.optim import OptimizerSpec, build_optimizer, epoch_end, per_step
from reference_loop.preflight import run_probes
from reference_loop.probes import ProbeResult
from reference_loop.steps import micro_step_with_output, no_sync, optimizer_step, windows


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
    objective: Optional[Objective] = field(default=None, repr=False)
    precision: Precision = Precision(None, False)
    notes: list[str] = field(default_factory=list)  # what the loop changed or decided, in words
    stopped: Optional[dict[str, Any]] = None  # why the run ended before `epochs` (early stopping, non-finite loss)


@dataclass
class TestResult:
    metrics: dict[str, float]
    findings: list[Finding]

    __test__ = False  # not a pytest test class, despite the name

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]


def fit(model: torch.nn.Module, train: DataLike, val: DataLike, *, loss: Union[None, str, Callable] = None,
        optimizer: OptimizerSpec = None, lr: float = 1e-3, weight_decay: float = 0.01, epochs: int = 20,
        batch_size: int = 64, accumulation_steps: int = 1, amp: Union[bool, str] = "auto",
        grad_clip: Optional[float] = None, scheduler: Optional[Callable[[torch.optim.Optimizer], Any]] = None,
        scheduler_interval: str = "step", device: str = "auto", seed: int = 0, monitor: str = "val_loss",
        min_delta: float = 0.0, patience: Optional[int] = None, on_nonfinite: str = "stop",
        out_dir: Optional[str] = None, resume: Optional[str] = None, probes: bool = True, guards: bool = True,
        progress: Optional[bool] = None, test_data: Optional[DataLike] = None,
        run_name: Optional[str] = None) -> FitResult:
    """Train `model` on `train`, select the best epoch on `val`, and audit the run.

    `loss`: a criterion, or "auto" / "cross_entropy" / "bce" / "mse" / "huber" (None is
    "auto": chosen from the targets and the model's output). `optimizer`: None (AdamW
    with `lr`, `weight_decay` on weights only), a callable `model -> optimizer`, or an
    optimizer already built on the model's parameters. `scheduler`: a callable
    `optimizer -> scheduler`, stepped after every update (`scheduler_interval="step"`) or
    once per epoch ("epoch"); a ReduceLROnPlateau steps per epoch on the monitored metric.
    `monitor`: the validation metric that picks the best epoch and drives early stopping
    (`val_loss`, `val_accuracy`, `val_rmse`, `val_mae`, `val_r2`), the loss breaking ties;
    an epoch is better only by more than `min_delta`. `on_nonfinite`: "stop" ends the run
    at the first epoch whose training loss is not finite, "continue" trains on.
    `out_dir`: report, curves, best weights, and `checkpoint.pt` after every epoch, which
    `resume=out_dir` continues from. `test_data` is only given to the overlap probe (TRN207).
    """
    where = user_location(2)
    model_where = module_location(model) or where
    if on_nonfinite not in ("stop", "continue"):
        raise ValueError(f"on_nonfinite must be 'stop' or 'continue', not {on_nonfinite!r}")
    if scheduler_interval not in ("step", "epoch"):
        raise ValueError(f"scheduler_interval must be 'step' or 'epoch', not {scheduler_interval!r}")
    ckpt = _load_checkpoint(resume) if resume is not None else None
    # --- setup: one seed, one device, data on loaders that suit each split
    seed_everything(seed)
    dist = distributed.setup(device)
    if dist.enabled:
        # Dropout and augmentation differ per rank (else every rank draws the same masks);
        # the data order comes from the samplers' shared seed, so it stays consistent.
        seed_everything(seed + dist.rank)
    dev = dist.device
    train_ds, val_ds = as_dataset(train, "training data"), as_dataset(val, "validation data")
    model.to(dev)
    out, y_train = check_compatible(model, train_ds, dev)
    objective = _objective(loss, out, y_train)
    # Tensors the model kept from an earlier forward under inference mode (the user's own
    # evaluation before fit) would fail the first backward: ordinary copies instead.
    kept = evaluation.repair(model)
    if kept:
        objective.notes.append(f"the model held inference tensors from an earlier forward ({', '.join(kept[:3])}); "
                               "copied into ordinary tensors before training")
    train_ds = apply_targets(train_ds, objective)
    val_ds = _follow(objective, model, val_ds, dev, "validation data")
    monitored = _monitor_name(monitor, objective.kind)
    criterion = objective.criterion
    opt = build_optimizer(optimizer, model, lr, weight_decay)
    sched = scheduler(opt) if scheduler is not None else None
    precision = choose_precision(dev, amp)
    scaler = torch.amp.GradScaler(dev.type) if precision.use_scaler else None
    raw_train_dl = train_loader(train_ds, batch_size, seed, dist)
    train_dl, val_dl = raw_train_dl, eval_loader(val_ds, batch_size, dist)
    grad_off = evaluation.mode_for(model)

    # --- before the run: probes on copies of the model (TRN207, TRN9xx); a resumed run keeps its own
    probe_results: list[ProbeResult] = []
    if probes and ckpt is None:
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
              "grad_clip": grad_clip, "seed": seed, "patience": patience, "monitor": "val_" + monitored,
              "min_delta": min_delta, "lr": opt.param_groups[0]["lr"], "weight_decay": weight_decay,
              "device": str(dev), "precision": precision.label, "world_size": dist.world_size,
              "optimizer": type(opt).__name__, "loss": loss_name, "task_kind": objective.kind,
              "scheduler": type(sched).__name__ if sched is not None else None, "on_nonfinite": on_nonfinite,
              "guards": guards, "run_name": run_name}

    # --- the loop (hooks come off and the process group goes away even if it raises)
    history: list[dict[str, float]] = []
    best_state, best_epoch, best, stale = _snapshot(model), 0, None, 0
    stopped: Optional[dict[str, Any]] = None
    notes = list(objective.notes)
    start_epoch = 0
    if ckpt is not None:
        start_epoch, history, best_state, best_epoch, best, stale, probe_results, restored = _restore(
            ckpt, model, opt, scaler, sched, grad_off, raw_train_dl.generator, dev, dist.rank, dist.world_size)
        notes.append(f"resumed from {resume} after epoch {start_epoch}")
        guard_carry = restored
    else:
        guard_carry = []
    step_sched = per_step(sched, scheduler_interval)
    started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    bar = _progress(progress, epochs) if dist.is_main else None
    try:
        for epoch in range(start_epoch, epochs):
            epoch_start = time.perf_counter()
            if dist.enabled:
                train_dl.sampler.set_epoch(epoch)  # a different shuffle each epoch, the same on every rank
            model.train()
            totals, seen = torch.zeros(totals_size(objective.kind), device=dev), 0
            n_batches = len(train_dl)
            for i, (x, y) in enumerate(train_dl):
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                window_len, last_in_window = windows(n_batches, accumulation_steps, i)
                with no_sync(net, last_in_window):  # DDP: all-reduce gradients once per window
                    loss_value, out = micro_step_with_output(net, criterion, x, y, window_len, scaler, precision)
                totals += batch_totals(objective.kind, out.float(), y, loss_value)  # on the device: no sync per step
                seen += len(y)
                if last_in_window:
                    optimizer_step(model, opt, scaler, grad_clip, step_sched)
            train_metrics = metrics_of(objective.kind, distributed.all_reduce_sum(with_count(totals, seen), dist).tolist())
            val = evaluation.run(model, val_dl, criterion, dev, precision, dist, objective.kind, grad_off)
            row = _row(epoch + 1, train_metrics, val, opt, time.perf_counter() - epoch_start,
                       time.perf_counter() - started)
            history.append(row)
            if _better(val, best, monitored, min_delta):  # best checkpoint by validation, as a state_dict copy
                best_state, best_epoch, best, stale = _snapshot(model), epoch + 1, _kept(val), 0
            else:
                stale += 1
            epoch_end(sched, scheduler_interval, val[monitored])
            _show(bar, row, monitored)
            if on_nonfinite == "stop" and not math.isfinite(train_metrics["loss"]):
                # Every later update would train on garbage: stop, keep the best epoch so far.
                stopped = {"epoch": epoch + 1, "reason": f"non-finite training loss ({train_metrics['loss']})"}
                break
            if out_dir is not None:
                # Every rank's random state (each draws its own dropout), gathered; rank 0 writes.
                rngs = distributed.gather_objects(checkpoint.rng_state(raw_train_dl.generator), dist)
                if dist.is_main:
                    _save_checkpoint(out_dir, epoch + 1, model, opt, scaler, sched, history, best_state, best_epoch,
                                     best, stale, probe_results, guard, guard_carry, grad_off, rngs)
            if distributed.broadcast_flag(patience is not None and stale >= patience, dist):
                stopped = {"epoch": epoch + 1, "reason": f"early stopping: no better val_{monitored} "
                           f"(by more than {min_delta:g}) for {patience} epochs"}
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
    if grad_off.reason:
        notes.append(grad_off.reason)
    findings = [f for f in (r.finding() for r in probe_results) if f is not None] + guard.finish()
    findings += [f for f in guard_carry if f.code not in {g.code for g in findings}]
    if stopped is not None and stopped["reason"].startswith("non-finite") and not any(f.code == "TRN407" for f in findings):
        findings.append(make_finding("TRN407", f"the training loss of epoch {stopped['epoch']} was not finite; "
                                     "the run stopped there", where))  # guards off: the loop says it itself
    findings.sort(key=lambda f: f.code)
    result = FitResult(model, history, best_state, best_epoch, findings, probe_results, {}, guard, dev, where=where,
                       objective=objective, precision=precision, notes=notes, stopped=stopped)
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


def _objective(loss: Any, out: Any, y: torch.Tensor) -> Objective:
    try:
        return resolve(loss, out, y)
    except TargetError as exc:
        raise DataError(str(exc)) from None


def _follow(objective: Objective, model: torch.nn.Module, ds: Any, dev: torch.device, what: str) -> Any:
    """Another split checked and converted as the training split was (same kind, same criterion)."""
    out, y = check_compatible(model, ds, dev, what)
    try:
        resolve(objective.criterion, out, y, what, kind=objective.kind)
    except TargetError as exc:
        raise DataError(str(exc)) from None
    return apply_targets(ds, objective)


def _monitor_name(monitor: str, kind: str) -> str:
    try:
        return check_monitor(monitor, kind)
    except TargetError as exc:
        raise DataError(str(exc)) from None


def _row(epoch: int, train: dict[str, float], val: dict[str, float], opt: torch.optim.Optimizer,
         epoch_seconds: float, elapsed: float) -> dict[str, float]:
    """One history row: train_* (running, over the epoch's batches in train mode) and val_* metrics."""
    row: dict[str, float] = {"epoch": epoch}
    for prefix, metrics in (("train", train), ("val", val)):
        row.update({f"{prefix}_{k}": v for k, v in metrics.items() if k != "n"})
    row.update(lr=opt.param_groups[0]["lr"], epoch_seconds=round(epoch_seconds, 3), seconds=round(elapsed, 3))
    return row


def _kept(val: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in val.items()}


def _better(new: dict[str, float], best: Optional[dict[str, float]], name: str, min_delta: float) -> bool:
    """Better than the best so far by more than `min_delta` on the monitored metric; on a tie, by the loss."""
    value = new[name]
    if not math.isfinite(value) or not math.isfinite(new["loss"]):
        return False
    if best is None:
        return True
    gain = (value - best[name]) * DIRECTION[name]
    if gain > min_delta:
        return True
    # Accuracy on a small split often plateaus for many epochs: then the lower loss decides.
    return name != "loss" and value == best[name] and new["loss"] < best["loss"]


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights (not a reference that later steps would overwrite)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _load_checkpoint(where: str) -> dict[str, Any]:
    try:
        return checkpoint.load(where)
    except checkpoint.CheckpointError as exc:
        raise DataError(str(exc)) from None


def _save_checkpoint(out_dir: str, epoch: int, model: torch.nn.Module, opt: torch.optim.Optimizer,
                     scaler: Any, sched: Any, history: list, best_state: dict, best_epoch: int,
                     best: Optional[dict], stale: int, probe_results: list[ProbeResult], guard: GuardSet,
                     carried: list[Finding], grad_off: evaluation.GradOff, rngs: list[dict[str, Any]]) -> None:
    findings = {f.code: f for f in carried}
    findings.update({f.code: f for f in guard.findings})
    checkpoint.save(out_dir, {
        "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "scheduler": sched.state_dict() if sched is not None else None,
        "history": history, "best_state": best_state, "best_epoch": best_epoch, "best": best, "stale": stale,
        "probes": [dict(p.to_dict(), where=list(p.where) if p.where else None) for p in probe_results],
        "findings": [[f.code, f.message, f.path, f.line] for f in findings.values()],
        "eval_no_grad": grad_off.no_grad, "rng": rngs})


def _restore(ckpt: dict[str, Any], model: torch.nn.Module, opt: torch.optim.Optimizer, scaler: Any, sched: Any,
             grad_off: evaluation.GradOff, generator: Optional[torch.Generator], dev: torch.device,
             rank: int = 0, world_size: int = 1):
    try:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if scaler is not None and ckpt["scaler"] is not None:
            scaler.load_state_dict(ckpt["scaler"])
        if sched is not None and ckpt["scheduler"] is not None:
            sched.load_state_dict(ckpt["scheduler"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise DataError(f"the checkpoint does not fit this model and optimizer: {str(exc).splitlines()[0]}") from None
    if ckpt.get("eval_no_grad"):
        grad_off.switch("evaluating under no_grad, as the run being resumed did")
    probe_results = [ProbeResult(p["code"], p["verdict"], p["message"], p["measured"], p["seconds"],
                                 tuple(p["where"]) if p["where"] else None) for p in ckpt["probes"]]
    carried = [make_finding(code, message, (path, line)) for code, message, path, line in ckpt["findings"]]
    rngs = ckpt["rng"]
    # Each rank its own state when the world is the same size; else rank 0's (the run goes on, not bit for bit).
    checkpoint.restore_rng(rngs[rank] if len(rngs) == world_size else rngs[0], generator)
    best_state = {k: v.to(dev) for k, v in ckpt["best_state"].items()}
    return (ckpt["epoch"], list(ckpt["history"]), best_state, ckpt["best_epoch"], ckpt["best"], ckpt["stale"],
            probe_results, carried)


def evaluate(model: torch.nn.Module, data: Union[DataLike, DataLoader], *, loss: Union[None, str, Callable] = None,
             batch_size: int = 256, device: Union[str, torch.device, None] = None) -> dict[str, float]:
    """Loss and metrics of `model` on `data`, evaluated correctly (eval mode, autograd off).

    Accuracy for classification; RMSE, MAE and R² for regression (the kind is chosen as
    `fit` chooses it, from `loss` and the targets).
    """
    first = next(model.parameters(), None)
    dev = torch.device(device) if device not in (None, "auto") else (first.device if first is not None else torch.device("cpu"))
    dist = distributed.Dist(device=dev)
    if isinstance(data, DataLoader):
        ds, loader = data.dataset, data
    else:
        ds = as_dataset(data, "evaluation data")
        loader = None
    out, y = check_compatible(model, ds, dev, "evaluation data")
    objective = _objective(loss, out, y)
    if loader is None or objective.target_dtype is not None or objective.target_shape is not None:
        loader = eval_loader(apply_targets(ds, objective), batch_size, dist)
    return evaluation.run(model, loader, objective.criterion, dev, Precision(None, False), dist, objective.kind)


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
    if result is not None and result.objective is not None and loss is None:
        # The kind, criterion, target conversion, precision and grad mode of the fit: test
        # numbers comparable with the validation numbers that chose the epoch.
        dev = result.device
        single = distributed.Dist(device=dev)
        ds = _follow(result.objective, model, as_dataset(test_data, "test data"), dev, "test data")
        metrics = evaluation.run(model, eval_loader(ds, batch_size, single), result.objective.criterion, dev,
                                 result.precision, single, result.objective.kind)
    else:
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


def _show(bar: Any, row: dict[str, float], monitored: str) -> None:
    if bar is not None:
        shown = {"loss": f"{row['train_loss']:.4f}", "val_loss": f"{row['val_loss']:.4f}"}
        if monitored != "loss":
            shown[f"val_{monitored}"] = f"{row[f'val_{monitored}']:.4f}"
        bar.set_postfix(**shown)
        bar.update(1)


def _report_payload(result: FitResult, config: dict[str, Any]) -> dict[str, Any]:
    """What report.json holds: configuration, history, best epoch, probes and findings."""
    import platform

    return {"config": config, "history": result.history, "best_epoch": result.best_epoch,
            "best": result.history[result.best_epoch - 1] if result.best_epoch > 0 else None,
            "probes": [p.to_dict() for p in result.probes], "findings": [f.to_dict() for f in result.findings],
            "test": result.test_metrics, "notes": result.notes, "stopped": result.stopped,
            "environment": {"torch": torch.__version__, "python": platform.python_version()}}


def _ddp(model: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    device_ids = [dev.index] if dev.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
