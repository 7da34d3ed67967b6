"""Small models and data shared by the runtime tests (deliberately broken ones included)."""

from __future__ import annotations

import torch
from torch import nn

from reference_loop.tasks import load_task


def task(name: str = "iris"):
    return load_task(name, seed=0)


def mlp(d: int, c: int, hidden: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, c))


class SoftmaxNet(nn.Module):
    """Softmax as the last layer, fed to CrossEntropyLoss: TRN301 and TRN902."""

    def __init__(self, d: int, c: int) -> None:
        super().__init__()
        self.body = mlp(d, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.body(x), dim=1)


class UnusedParamNet(nn.Module):
    """A head built in __init__ and never used in forward: TRN408."""

    def __init__(self, d: int, c: int) -> None:
        super().__init__()
        self.body = mlp(d, c)
        self.unused_head = nn.Linear(d, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class BatchMixingNet(nn.Module):
    """Reshapes across the batch dimension (a transposed view): TRN903."""

    def __init__(self, d: int, c: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, 16)
        self.fc2 = nn.Linear(16, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x))
        h = h.reshape(h.shape[1], h.shape[0]).t()  # wrong: mixes samples, keeps the shape
        return self.fc2(h)


class OverconfidentNet(nn.Module):
    """Initial logits in the hundreds: TRN901."""

    def __init__(self, d: int, c: int) -> None:
        super().__init__()
        self.body = mlp(d, c)
        with torch.no_grad():
            self.body[-1].weight.mul_(200.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
