"""A small data module, imported by the test scripts: indirection that static analysis cannot follow."""

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from torch.utils.data import DataLoader, TensorDataset


def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y


def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X, y.astype(np.float32)


def to_dataset(X, y):
    y = torch.tensor(y)
    return TensorDataset(torch.tensor(X, dtype=torch.float32), y if y.is_floating_point() else y.long())


def make_loader(X, y, **options):
    options.setdefault("batch_size", 64)
    return DataLoader(to_dataset(X, y), **options)
