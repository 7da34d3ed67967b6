"""A model class that calls super().__init__() before assigning its layers."""
import torch
from torch import nn


class TabularNet(nn.Module):
    def __init__(self, n_features: int, n_classes: int, hidden: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_model() -> TabularNet:
    return TabularNet(n_features=13, n_classes=3)
