"""Gradient accumulation that divides each micro-batch loss by the window size."""
import torch
from torch import nn


def train(model: nn.Module, loader, accum_steps: int = 4) -> None:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = nn.MSELoss()
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        (loss / accum_steps).backward()
        if (step + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    train(net, [(torch.randn(32, 8), torch.randn(32, 1)) for _ in range(40)])
