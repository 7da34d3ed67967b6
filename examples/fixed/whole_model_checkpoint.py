"""The best model is checkpointed as its state_dict, with the epoch and validation loss."""
import torch
from torch import nn


@torch.no_grad()
def val_loss(model: nn.Module, loader, criterion) -> float:
    model.eval()
    return sum(criterion(model(x), y).item() for x, y in loader) / len(loader)


def fit(model: nn.Module, optimizer, train_loader, val_loader, epochs: int = 20, path: str = "best.pt") -> None:
    criterion = nn.CrossEntropyLoss()
    best = float("inf")
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        current = val_loss(model, val_loader, criterion)
        if current < best:
            best = current
            torch.save({"model": model.state_dict(), "epoch": epoch, "val_loss": current}, path)
