# Pair: random_split into train/val; train accuracy also measured on the training Subset.
# "val" is a part of the held-out split (correct); the training Subset scored again is training
# accuracy, not an overlapping split.
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, random_split
from datasets_helper import digits, to_dataset
from eval_tools import accuracy

torch.manual_seed(0)
X, y = digits()
train_ds, held_out = random_split(to_dataset(X / 16.0, y), [0.8, 0.2], generator=torch.Generator().manual_seed(0))
val_ds = Subset(held_out, range(300))
train = DataLoader(train_ds, batch_size=64, shuffle=True)
train_eval, val = DataLoader(train_ds, batch_size=256), DataLoader(val_ds, batch_size=256)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    print(epoch, "train", round(accuracy(model, train_eval), 3), "val", round(accuracy(model, val), 3))
