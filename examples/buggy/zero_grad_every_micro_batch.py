"""Gradient accumulation over 4 micro-batches that clears the gradients on every one:
each step sees only the last micro-batch. expect: TRN402"""
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUMULATION_STEPS = 4

X, y = load_digits(return_X_y=True)
train_ds = TensorDataset(torch.tensor(X / 16.0, dtype=torch.float32), torch.tensor(y))
loader = DataLoader(train_ds, batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()

for epoch in range(10):
    model.train()
    for step, (x, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), target) / ACCUMULATION_STEPS
        loss.backward()
        if (step + 1) % ACCUMULATION_STEPS == 0:
            optimizer.step()
