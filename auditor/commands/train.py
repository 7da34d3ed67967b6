"""`auditor train`: the reference training loop on a built-in task or the user's model and data.

Only click is imported at module import time; torch, scikit-learn and reference_loop
are imported inside the command so that `auditor check` never pays for them.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from typing import Any, Callable, Optional

import click

from auditor.commands import require_runtime_extra

TASKS = ("iris", "digits", "wine", "breast_cancer", "diabetes")
# Enough epochs for each built-in task to converge with the default AdamW(lr=1e-3).
TASK_EPOCHS = {"iris": 150, "digits": 30, "wine": 60, "breast_cancer": 30, "diabetes": 60}
LOSSES = ("auto", "cross_entropy", "bce", "mse", "huber")
MONITORS = ("val_loss", "val_accuracy", "val_rmse", "val_mae", "val_r2")


class BadInput(click.ClickException):
    """Bad input: one line `Error: ...` on stderr, no usage block, exit status 2."""

    exit_code = 2


def load_factory(spec: str, option: str) -> Callable[..., Any]:
    """`pkg.module:name` or `path/to/file.py:name` -> the callable, or one clear BadInput."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise BadInput(f"{option} {spec!r}: expected MODULE:FACTORY, e.g. mypkg.models:make_model")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the user's own modules are importable
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            if not os.path.isfile(module_name):
                raise BadInput(f"{option} {spec!r}: no such file {module_name}")
            name = os.path.splitext(os.path.basename(module_name))[0]
            loader_spec = importlib.util.spec_from_file_location(name, module_name)
            module = importlib.util.module_from_spec(loader_spec)  # type: ignore[arg-type]
            loader_spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(module_name)
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(f"{option} {spec!r}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise BadInput(f"{option} {spec!r}: {module_name} has no callable {attr!r}")
    return factory


def _user_splits(data_factory: Callable[..., Any]) -> tuple[Any, Any, Any]:
    """The data factory returns (train, val, test): Datasets, (X, y) pairs, a dict or a Splits."""
    try:
        data = data_factory()
    except Exception as exc:
        raise BadInput(f"--data factory failed: {type(exc).__name__}: {exc}") from None
    if isinstance(data, dict):
        missing = [k for k in ("train", "val", "test") if k not in data]
        if missing:
            raise BadInput(f"--data factory returned a dict without {', '.join(missing)}")
        return data["train"], data["val"], data["test"]
    if hasattr(data, "train") and hasattr(data, "val") and hasattr(data, "test"):
        return data.train, data.val, data.test
    if isinstance(data, (tuple, list)) and len(data) == 3:
        return data[0], data[1], data[2]
    raise BadInput("--data factory must return (train, val, test): Datasets or (X, y) pairs, "
                           f"not {type(data).__name__}")


def _rules() -> list:
    from rules.runtime_checks import RUNTIME_RULES

    try:
        from rules import ALL_RULES
    except Exception:  # the catalog is assembled elsewhere; the runtime rules suffice here
        return list(RUNTIME_RULES)
    known = {r.code for r in ALL_RULES}
    return list(ALL_RULES) + [r for r in RUNTIME_RULES if r.code not in known]


DATA_CODES = ("TRN203", "TRN204", "TRN207")


def _relocate(result: Any, model_where: Optional[tuple], data_where: Optional[tuple]) -> None:
    """Findings placed at the line that called `fit` (this command, not the user's code)
    point instead at the factory the user wrote: data findings at the data factory, the
    others at the model factory. Findings already at the user's own line stay."""
    for f in result.findings:
        if (f.path, f.line) != tuple(result.where or ()):
            continue
        where = data_where if f.code in DATA_CODES else model_where
        if where is not None:
            f.path, f.line, f.end_line = where[0], where[1], where[1]


def _table(result: Any, test_metrics: dict, dataset: str) -> str:
    best = result.report.get("best") or {}
    last = result.history[-1] if result.history else {}
    names = ("accuracy",) if result.objective is None or result.objective.kind != "regression" else ("rmse", "mae", "r2")
    nan = float("nan")
    lines = [f"{dataset}: {len(result.history)} epochs on {result.device}, best epoch {result.best_epoch} "
             f"by {result.report['config']['monitor']}",
             f"  {'split':<6} {'loss':>10}" + "".join(f" {n:>9}" for n in names),
             f"  {'train':<6} {last.get('train_loss', nan):>10.4f}" + "".join(f" {last.get('train_' + n, nan):>9.4f}" for n in names)
             + "   (last epoch, running, train mode)",
             f"  {'val':<6} {best.get('val_loss', nan):>10.4f}" + "".join(f" {best.get('val_' + n, nan):>9.4f}" for n in names)
             + "   (best epoch)",
             f"  {'test':<6} {test_metrics['loss']:>10.4f}" + "".join(f" {test_metrics.get(n, nan):>9.4f}" for n in names)]
    if result.stopped:
        lines.append(f"  stopped at epoch {result.stopped['epoch']}: {result.stopped['reason']}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append("  probes:")
    for p in result.probes:
        lines.append(f"    {p.code} {p.name:<24} {p.verdict:<12} {p.message[:90]}")
    return "\n".join(lines) + "\n"


def _scheduler(name: str, epochs: int, monitor: str) -> Optional[Callable[..., Any]]:
    import torch

    if name == "cosine":
        return lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    if name == "plateau":
        mode = "max" if monitor in ("val_accuracy", "val_r2") else "min"
        return lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=5)
    return None


@click.command(name="train")
@click.option("--task", default=None, metavar="|".join(TASKS),
              help="Built-in task on scikit-learn's bundled data (default: digits).")
@click.option("--model", "model_spec", metavar="MODULE:FACTORY", default=None,
              help="Your model: a callable returning an nn.Module.")
@click.option("--data", "data_spec", metavar="MODULE:FACTORY", default=None,
              help="Your data: a callable returning (train, val, test) as Datasets or (X, y) arrays.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps, xpu.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs (default: per task, 30 otherwise).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="AdamW learning rate.")
@click.option("--accumulation-steps", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--amp", type=click.Choice(["auto", "on", "off", "bf16", "fp16"]), default="auto", show_default=True,
              help="Mixed precision: auto = bf16 (or fp16 with GradScaler) on CUDA, off elsewhere.")
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Clip the gradient norm to this value.")
@click.option("--loss", type=click.Choice(LOSSES), default="auto", show_default=True,
              help="auto: cross-entropy for class indices, BCE-with-logits for 0/1 labels and one output, MSE otherwise.")
@click.option("--monitor", type=click.Choice(MONITORS), default="val_loss", show_default=True,
              help="Validation metric that picks the best epoch and drives early stopping (ties: lower loss).")
@click.option("--min-delta", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="An epoch is better only if the monitored metric improves by more than this.")
@click.option("--patience", type=click.IntRange(min=1), default=None, help="Early stopping after N epochs without improvement.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="AdamW weight decay (weights only: not biases or normalisation weights).")
@click.option("--scheduler", "scheduler_name", type=click.Choice(["none", "cosine", "plateau"]), default="none",
              show_default=True, help="cosine: annealed per epoch over --epochs; plateau: ReduceLROnPlateau on --monitor.")
@click.option("--on-nonfinite", type=click.Choice(["stop", "continue"]), default="stop", show_default=True,
              help="What a non-finite training loss does to the run (TRN407 either way).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the run whose --out folder this is (its checkpoint.pt), up to --epochs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (small models often run fastest on 1).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write report.json, curves.png, best_state_dict.pt and checkpoint.pt (every epoch) here.")
@click.option("--no-probes", is_flag=True, help="Skip the probes before training (TRN207, TRN9xx).")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Format of the findings on stdout.")
def train(task: Optional[str], model_spec: Optional[str], data_spec: Optional[str], device: str,
          epochs: Optional[int], batch_size: int, lr: float, accumulation_steps: int, amp: str,
          grad_clip: Optional[float], loss: str, monitor: str, min_delta: float, patience: Optional[int],
          weight_decay: float, scheduler_name: str, on_nonfinite: str, resume_dir: Optional[str], seed: int,
          threads: Optional[int], out_dir: Optional[str], no_probes: bool, output_format: str) -> None:
    """Train with the reference loop, checking the model, the data and the loop as it runs.

    Exit status: 0 without error findings, 1 with, 2 on bad input.
    """
    require_runtime_extra("train")
    if task is not None and task not in TASKS:
        raise BadInput(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if (model_spec is None) != (data_spec is None):
        raise BadInput("--model and --data go together (or use --task)")
    if model_spec is not None and task is not None:
        raise BadInput("use either --task or --model/--data, not both")
    model_factory = load_factory(model_spec, "--model") if model_spec else None
    data_factory = load_factory(data_spec, "--data") if data_spec else None

    import torch

    import reference_loop
    from reference_loop.device import seed_everything

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        reference_loop.choose_device(device)
    except reference_loop.DeviceError as exc:
        raise BadInput(str(exc)) from None
    seed_everything(seed)
    if model_factory is None:
        from reference_loop.tasks import load_task

        name = task or "digits"
        loaded = load_task(name, seed=seed)
        train_data, val_data, test_data = loaded.splits.train, loaded.splits.val, loaded.splits.test
        model = loaded.model()
        epochs = epochs or TASK_EPOCHS[name]
    else:
        name = f"{model_spec} on {data_spec}"
        train_data, val_data, test_data = _user_splits(data_factory)  # type: ignore[arg-type]
        try:
            model = model_factory()
        except Exception as exc:
            raise BadInput(f"--model factory failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(model, torch.nn.Module):
            raise BadInput(f"--model factory must return a torch.nn.Module, not {type(model).__name__}")
        epochs = epochs or 30
    if resume_dir is not None and out_dir is None:
        out_dir = resume_dir  # the resumed run goes on writing where it was
    try:
        result = reference_loop.fit(
            model, train_data, val_data, loss=loss, lr=lr, weight_decay=weight_decay, epochs=epochs,
            batch_size=batch_size, accumulation_steps=accumulation_steps, amp=amp, grad_clip=grad_clip,
            scheduler=_scheduler(scheduler_name, epochs, monitor), scheduler_interval="epoch", device=device,
            seed=seed, monitor=monitor, min_delta=min_delta, patience=patience, on_nonfinite=on_nonfinite,
            out_dir=out_dir, resume=resume_dir, probes=not no_probes, test_data=test_data, run_name=name)
        tested = reference_loop.test(result, test_data, out_dir=out_dir)
    except (reference_loop.DataError, reference_loop.DeviceError) as exc:
        raise BadInput(str(exc)) from None

    from auditor.report import Report, render
    from reference_loop.distributed import is_main_process
    from reference_loop.locate import callable_location

    if model_factory is None:
        from reference_loop import tasks

        _relocate(result, callable_location(tasks.mlp), callable_location(tasks.load_task))
    else:
        _relocate(result, callable_location(model_factory), callable_location(data_factory))

    if not is_main_process():  # under torchrun every rank trains; rank 0 speaks
        sys.exit(1 if any(f.severity.label == "error" for f in result.findings) else 0)

    report = Report(findings=sorted(result.findings, key=lambda f: f.sort_key()), rules=_rules())
    if output_format == "json":
        payload = json.loads(render(report, "json"))
        payload["run"] = {"task": name, "kind": result.objective.kind, "history": result.history,
                          "best_epoch": result.best_epoch, "monitor": monitor, "stopped": result.stopped,
                          "notes": result.notes, "test": tested.metrics, "probes": [p.to_dict() for p in result.probes],
                          "out_dir": out_dir}
        click.echo(_table(result, tested.metrics, name), nl=False, err=True)
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(_table(result, tested.metrics, name), nl=False)
        click.echo(render(report, "text", quiet=True), nl=False)
        s = report.summary()["by_severity"]
        n = len(report.findings)
        click.echo(f"Found {n} finding{'s' if n != 1 else ''}" +
                   (f" ({s['error']} error, {s['warning']} warning, {s['info']} info)." if n else "."))
    if any(f.severity.label == "error" for f in result.findings):
        sys.exit(1)
