"""After the run: report.json, a PNG of the curves and the best state_dict, in one folder."""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import torch


def write_report(result: Any, out_dir: str) -> dict[str, str]:
    """Write the artifacts of a FitResult (the checkpoint is written by the loop); returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"report": os.path.join(out_dir, "report.json"), "curves": os.path.join(out_dir, "curves.png"),
             "state_dict": os.path.join(out_dir, "best_state_dict.pt")}
    torch.save(result.best_state, paths["state_dict"])  # weights only: loadable with weights_only=True
    config = result.report.get("config", {})
    plot_curves(result.history, paths["curves"], title=config.get("run_name") or "reference training",
                best_epoch=result.best_epoch, test=result.test_metrics, monitor=config.get("monitor", "val_loss"))
    payload = dict(result.report, artifacts=paths)
    with open(paths["report"], "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, default=_jsonable)
        fh.write("\n")
    return paths


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return str(value)


def plot_curves(history: list[dict[str, float]], path: str, *, title: str = "reference training",
                best_epoch: int = 0, test: Optional[dict[str, float]] = None, monitor: str = "val_loss") -> None:
    """Loss (train, validation) and the task's metric per epoch; the best epoch marked, the test point at it.

    The metric axis is fixed (accuracy 0 to 1, R² up to 1): on an autoscaled axis one
    validation sample more or less of 23 looks like a cliff.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    metric = "accuracy" if any("val_accuracy" in r for r in history) else "r2"
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4.2))
    subtitle = f"best epoch {best_epoch} of {len(history)} by {monitor}" if best_epoch else "no epoch improved"
    if test:
        subtitle += f"; test: loss {test['loss']:.4g}, {metric} {test.get(metric, float('nan')):.4g}"
    fig.suptitle(f"{title}\n{subtitle}", fontsize=11)
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_metric, metric, "accuracy" if metric == "accuracy" else "R²")):
        for split, color in (("train", "tab:blue"), ("val", "tab:orange")):
            values = [r.get(f"{split}_{key}", float("nan")) for r in history]
            ax.plot(epochs, values, color=color, label="train (running, train mode)" if split == "train" else "validation")
        if best_epoch:
            ax.axvline(best_epoch, color="tab:green", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        if test and key in test and best_epoch:
            ax.plot([best_epoch], [test[key]], marker="*", markersize=12, color="tab:red", linestyle="none",
                    label=f"test ({test[key]:.4g})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    if metric == "accuracy":
        ax_metric.set_ylim(0, 1.02)
    else:
        low = min([r.get("val_r2", 0.0) for r in history if r.get("val_r2") == r.get("val_r2")] + [0.0])
        ax_metric.set_ylim(max(low, -1.0) - 0.05, 1.02)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
