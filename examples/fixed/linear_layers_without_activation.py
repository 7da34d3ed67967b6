"""A classifier head with a ReLU between its two Linear layers."""
import torch
from torch import nn


class WineClassifier(nn.Module):
    def __init__(self, n_features: int = 13, n_classes: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, 64), nn.BatchNorm1d(64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
