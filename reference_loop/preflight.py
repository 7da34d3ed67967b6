"""Run every probe before training, within a time budget, and collect their verdicts."""

from __future__ import annotations

import time
from typing import Callable, Optional

import torch
from torch.utils.data import Dataset, TensorDataset

from reference_loop import probes
from reference_loop.data import features_of
from reference_loop.locate import Where
from reference_loop.overlap import split_overlap
from reference_loop.probes import ProbeResult
from reference_loop.steps import micro_step

PROBE_BATCH = 16
# Rows read from a dataset for the overlap probe (all of an in-memory TensorDataset is cheap;
# a lazy image dataset is read item by item, so bound it).
MAX_ROWS, MAX_LAZY_ROWS = 100_000, 5_000


def _rows(ds: Dataset) -> torch.Tensor:
    return features_of(ds, MAX_ROWS if isinstance(ds, TensorDataset) else MAX_LAZY_ROWS)


def _probe_batch(ds: Dataset, n: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random handful of training samples (the first rows may all be one class)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:n].tolist()  # type: ignore[arg-type]
    xs, ys = zip(*(ds[i] for i in idx))
    return torch.stack([torch.as_tensor(v) for v in xs]).to(device), torch.stack([torch.as_tensor(v) for v in ys]).to(device)


def run_probes(model: torch.nn.Module, criterion: Callable, optimizer: torch.optim.Optimizer, train: Dataset,
               evals: dict[str, Dataset], *, accumulation_steps: int, device: torch.device, seed: int = 0,
               model_where: Optional[Where] = None, data_where: Optional[Where] = None,
               step_fn: Callable = micro_step, budget_s: float = 20.0) -> list[ProbeResult]:
    """TRN207 and TRN901-TRN905, in order of cost; probes left when the budget is spent are skipped."""
    start = time.perf_counter()
    x, y = _probe_batch(train, PROBE_BATCH, seed, device)
    big_x, big_y = _probe_batch(train, 256, seed, device)
    k = accumulation_steps
    plan = [
        lambda: split_overlap(_rows(train), {name: _rows(ds) for name, ds in evals.items()}, seed=seed,
                              where=data_where),
        lambda: probes.initial_loss(model, criterion, big_x, big_y, where=model_where, seed=seed),
        lambda: probes.batch_independence(model, x, where=model_where, seed=seed),
        lambda: probes.parameters_updated(model, criterion, optimizer, x, y, step_fn=step_fn,
                                          where=model_where, seed=seed),
        lambda: probes.accumulation_matches(model, criterion, x[: max(k, 1) * 4], y[: max(k, 1) * 4], k,
                                            step_fn=step_fn, where=model_where, seed=seed),
        lambda: probes.overfit_batch(model, criterion, x, y, where=model_where, seed=seed,
                                     budget_s=max(1.0, min(10.0, budget_s / 2))),
    ]
    codes = ["TRN207", "TRN901", "TRN903", "TRN904", "TRN905", "TRN902"]
    results = []
    for code, probe in zip(codes, plan):
        if time.perf_counter() - start > budget_s:
            results.append(ProbeResult(code, "skipped", f"probe time budget of {budget_s:.0f}s spent"))
            continue
        results.append(probe())
    return results
