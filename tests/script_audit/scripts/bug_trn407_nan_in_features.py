# TRN407: one missing value in the loaded table (NaN) poisons the loss; nothing crashes.
import numpy as np
import torch
from torch import nn
from datasets_helper import cancer, make_loader


def load_table():
    X, y = cancer()
    X = (X - X.mean(0)) / X.std(0)
    X[123, 4] = np.nan  # a missing measurement in the "CSV"
    return X, y


torch.manual_seed(0)
X, y = load_table()
train = make_loader(X, y, shuffle=False, batch_size=32)
model = nn.Sequential(nn.Linear(X.shape[1], 8), nn.ReLU(), nn.Linear(8, 1))
criterion = nn.BCEWithLogitsLoss()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model.train()
for epoch in range(2):
    for xb, yb in train:
        opt.zero_grad()
        criterion(model(xb).squeeze(1), yb).backward()
        opt.step()
    print(epoch, "trained")
