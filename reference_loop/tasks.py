"""Built-in tasks on scikit-learn's bundled data sets, each with a model that suits it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from reference_loop.data import Splits, prepare_splits

CLASSIFICATION = ("iris", "digits", "wine", "breast_cancer")
REGRESSION = ("diabetes",)
TASKS = CLASSIFICATION + REGRESSION


@dataclass
class Task:
    name: str
    splits: Splits
    n_features: int
    n_classes: int  # outputs per sample: classes, or 1 for regression
    kind: str = "multiclass"
    target_mean: Optional[float] = None  # regression: the training split's target statistics
    target_std: Optional[float] = None

    def model(self, hidden: int = 128, dropout: float = 0.1) -> nn.Module:
        if self.kind == "regression":
            return regressor(self.n_features, self.target_mean or 0.0, self.target_std or 1.0, hidden, dropout)
        return mlp(self.n_features, self.n_classes, hidden, dropout)


def mlp(n_features: int, n_classes: int, hidden: int = 128, dropout: float = 0.1) -> nn.Module:
    """Two hidden layers with ReLU: logits out (CrossEntropyLoss applies log_softmax)."""
    return nn.Sequential(
        nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, n_classes),
    )


class Rescale(nn.Module):
    """Maps a standardized output back to the target's units, with the training split's mean and std.

    The network learns on a unit scale (its initial outputs near 0 mean "predict the
    mean"), while the loss and the reported RMSE/MAE stay in the target's own units.
    """

    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


def regressor(n_features: int, mean: float, std: float, hidden: int = 128, dropout: float = 0.1) -> nn.Module:
    """The same MLP with one output per sample, rescaled to the target's units."""
    return nn.Sequential(mlp(n_features, 1, hidden, dropout), Rescale(mean, std))


def _loader(name: str) -> Callable:
    from sklearn import datasets

    return {"iris": datasets.load_iris, "digits": datasets.load_digits, "wine": datasets.load_wine,
            "breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}[name]


def load_task(name: str, seed: int = 0) -> Task:
    """Split the bundled data set (stratified for classes) and seeded; standardize with train statistics."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    X, y = _loader(name)(return_X_y=True)
    if name in REGRESSION:
        y = y.astype(np.float32).reshape(-1, 1)  # one target per sample, as the model has one output
        splits = prepare_splits(X, y, seed=seed, stratify=False)
        y_train = splits.train[1]
        return Task(name, splits, X.shape[1], 1, "regression", float(y_train.mean()), float(y_train.std()))
    splits = prepare_splits(X, y, seed=seed)
    return Task(name, splits, X.shape[1], int(y.max()) + 1)


def seeded_model(task: Task, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return task.model()
