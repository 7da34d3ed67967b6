"""F.dropout in forward without training=self.training: dropout stays on after
model.eval(), so every validation score is computed on a randomly thinned network.
expect: TRN502"""
import torch
import torch.nn.functional as F
from torch import nn


class DigitsMLP(nn.Module):
    def __init__(self, p: float = 0.3) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 10)
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=self.p)
        return self.fc2(x)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return (model(x).argmax(dim=1) == y).float().mean().item()
