"""Gradient accumulation that sums, instead of averages, the micro-batch losses. expect: TRN401"""
import torch
from torch import nn

ACCUMULATION_STEPS = 4


def train_epoch(model: nn.Module, optimizer, loader) -> None:
    criterion = nn.MSELoss()
    model.train()
    optimizer.zero_grad()
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss.backward()
        if (step + 1) % ACCUMULATION_STEPS == 0:
            optimizer.step()
            optimizer.zero_grad()
