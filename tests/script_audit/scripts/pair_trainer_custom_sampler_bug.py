# Pair: a Lightning-like trainer (tiny_trainer.py) gets a factory that builds a fresh validation
# loader each epoch, with a hand-written "balanced" sampler. BUG: the sampler draws a new random
# order on every pass, so the evaluation batches are shuffled (TRN203); each loader is freed
# after its epoch, long before the report.
import random

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler
from sklearn.model_selection import train_test_split
from datasets_helper import digits, to_dataset
from tiny_trainer import LitModule, PrintMetric, Trainer


class InterleavedSampler(Sampler):
    """Interleaves the classes so every batch sees all of them."""

    def __init__(self, labels, seed=0):
        self.labels, self.rng = list(labels), random.Random(seed)

    def __iter__(self):
        order = list(range(len(self.labels)))
        self.rng.shuffle(order)
        return iter(order)

    def __len__(self):
        return len(self.labels)


class Net(LitModule):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.body(x)


torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
train = DataLoader(to_dataset(X_tr, y_tr), batch_size=64, shuffle=True)


val_sampler = InterleavedSampler(y_va)


def val_loader():
    return DataLoader(to_dataset(X_va, y_va), batch_size=64, sampler=val_sampler)


Trainer(max_epochs=3, callbacks=[PrintMetric()]).fit(Net(), train, val_loader)
