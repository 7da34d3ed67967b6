"""The loss gets logits; softmax is only used to report confidence."""
import torch
import torch.nn.functional as F
from torch import nn


def train_step(model: nn.Module, optimizer, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    criterion = nn.CrossEntropyLoss()
    model.train()
    logits = model(x)
    loss = criterion(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    confidence = F.softmax(logits.detach(), dim=1).max(dim=1).values.mean()
    return loss.item(), confidence.item()
