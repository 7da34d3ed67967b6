"""Each micro-batch loss is divided by the number of micro-batches per step."""
import torch
from torch import nn

ACCUMULATION_STEPS = 4


def train_epoch(model: nn.Module, optimizer, loader) -> None:
    criterion = nn.MSELoss()
    model.train()
    optimizer.zero_grad()
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / ACCUMULATION_STEPS
        loss.backward()
        if (step + 1) % ACCUMULATION_STEPS == 0:
            optimizer.step()
            optimizer.zero_grad()
