"""Built-in tasks on scikit-learn's bundled data sets, each with a model that suits it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from reference_loop.data import Splits, prepare_splits

TASKS = ("iris", "digits", "wine", "breast_cancer")


@dataclass
class Task:
    name: str
    splits: Splits
    n_features: int
    n_classes: int

    def model(self, hidden: int = 128, dropout: float = 0.1) -> nn.Module:
        return mlp(self.n_features, self.n_classes, hidden, dropout)


def mlp(n_features: int, n_classes: int, hidden: int = 128, dropout: float = 0.1) -> nn.Module:
    """Two hidden layers with ReLU: logits out (CrossEntropyLoss applies log_softmax)."""
    return nn.Sequential(
        nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, n_classes),
    )


def _loader(name: str) -> Callable:
    from sklearn import datasets

    return {"iris": datasets.load_iris, "digits": datasets.load_digits, "wine": datasets.load_wine,
            "breast_cancer": datasets.load_breast_cancer}[name]


def load_task(name: str, seed: int = 0) -> Task:
    """Split the bundled data set stratified and seeded; standardize with train statistics."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    X, y = _loader(name)(return_X_y=True)
    splits = prepare_splits(X, y, seed=seed)
    return Task(name, splits, X.shape[1], int(y.max()) + 1)


def seeded_model(task: Task, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return task.model()
