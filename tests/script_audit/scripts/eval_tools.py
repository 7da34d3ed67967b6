"""Evaluation helpers in a module of their own (imported by the pair scripts)."""

import torch


@torch.no_grad()
def accuracy(model, loader):
    was_training = model.training
    model.eval()
    hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
    model.train(was_training)
    return hits / len(loader.dataset)


def report(model, loaders, epoch):
    print(epoch, {name: round(accuracy(model, loader), 3) for name, loader in loaders.items()})
