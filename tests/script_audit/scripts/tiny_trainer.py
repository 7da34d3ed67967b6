"""A Lightning-like trainer without Lightning: a module with hooks, a Trainer, callbacks."""

import torch
from torch import nn


class LitModule(nn.Module):
    def training_step(self, batch):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch):
        x, y = batch
        return (self(x).argmax(1) == y).float().sum().item()

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


class Callback:
    def on_validation_end(self, trainer, module, metric):
        pass


class PrintMetric(Callback):
    def on_validation_end(self, trainer, module, metric):
        print(f"epoch {trainer.epoch} val {metric:.3f}")


class Trainer:
    def __init__(self, max_epochs, callbacks=()):
        self.max_epochs, self.callbacks, self.epoch = max_epochs, list(callbacks), 0

    def fit(self, module, train_loader, val_loader_factory):
        opt = module.configure_optimizers()
        for self.epoch in range(self.max_epochs):
            module.train()
            for batch in train_loader:
                opt.zero_grad()
                module.training_step(batch).backward()
                opt.step()
            self.validate(module, val_loader_factory())

    @torch.no_grad()
    def validate(self, module, loader):
        module.eval()
        hits = sum(module.validation_step(batch) for batch in loader)
        for cb in self.callbacks:
            cb.on_validation_end(self, module, hits / len(loader.dataset))
