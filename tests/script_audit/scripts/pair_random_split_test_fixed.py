# Pair: random_split into train/val/test Subsets; train accuracy re-scored on a plain loader over
# the training Subset; the test split is evaluated once, after training (correct).
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from datasets_helper import digits, to_dataset
from eval_tools import accuracy, report

torch.manual_seed(0)
X, y = digits()
train_ds, val_ds, test_ds = random_split(to_dataset(X / 16.0, y), [0.7, 0.15, 0.15],
                                         generator=torch.Generator().manual_seed(0))
train = DataLoader(train_ds, batch_size=64, shuffle=True)
monitors = {"train": DataLoader(train_ds, batch_size=256), "val": DataLoader(val_ds, batch_size=256)}
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    report(model, monitors, epoch)
print("test", round(accuracy(model, DataLoader(test_ds, batch_size=256)), 3))
