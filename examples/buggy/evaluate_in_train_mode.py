"""Validation runs with dropout active and autograd on. expect: TRN101 TRN102"""
import torch
from torch import nn


def evaluate(model: nn.Module, val_loader) -> float:
    correct = total = 0
    for x, y in val_loader:
        pred = model(x).argmax(dim=1)
        correct += (pred == y).sum().item()
        total += y.numel()
    return correct / total


def fit(model, optimizer, train_loader, val_loader, epochs: int = 5) -> None:
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        print(epoch, evaluate(model, val_loader))
