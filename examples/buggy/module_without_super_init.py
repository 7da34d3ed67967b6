"""A model class whose __init__ never calls nn.Module.__init__: the parameter and
submodule registries do not exist when the layers are assigned. expect: TRN501"""
import torch
from torch import nn


class TabularNet(nn.Module):
    def __init__(self, n_features: int, n_classes: int, hidden: int = 64) -> None:
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_model() -> TabularNet:
    return TabularNet(n_features=13, n_classes=3)
