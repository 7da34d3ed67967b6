# TRN207: a hand-written split helper lets the training part run 60 rows into the validation part.
import numpy as np
import torch
from torch import nn
from datasets_helper import digits, make_loader


def split_indices(n, val_fraction, rng):
    order = rng.permutation(n)
    cut = int(n * (1 - val_fraction))
    margin = 60  # "context" rows, meant for something else
    return order[:cut + margin], order[cut:]


torch.manual_seed(0)
X, y = digits()
X = X / 16.0
train_idx, val_idx = split_indices(len(X), 0.2, np.random.RandomState(0))
train = make_loader(X[train_idx], y[train_idx], shuffle=True)
val = make_loader(X[val_idx], y[val_idx])
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(2):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val))
