"""After the run: report.json, a PNG of the curves and the best state_dict, in one folder."""

from __future__ import annotations

import json
import os
from typing import Any

import torch


def write_report(result: Any, out_dir: str) -> dict[str, str]:
    """Write the three artifacts of a FitResult; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"report": os.path.join(out_dir, "report.json"), "curves": os.path.join(out_dir, "curves.png"),
             "state_dict": os.path.join(out_dir, "best_state_dict.pt")}
    torch.save(result.best_state, paths["state_dict"])  # weights only: loadable with weights_only=True
    plot_curves(result.history, paths["curves"])
    payload = dict(result.report, artifacts=paths)
    with open(paths["report"], "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, default=_jsonable)
        fh.write("\n")
    return paths


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return str(value)


def plot_curves(history: list[dict[str, float]], path: str) -> None:
    """Loss (train and validation) and validation accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in history], label="validation")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [r["val_accuracy"] for r in history], label="validation", color="tab:orange")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
