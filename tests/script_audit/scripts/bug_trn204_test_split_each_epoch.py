# TRN204: a three-way random_split; a reporting helper walks *all* eval loaders every epoch, test included.
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from datasets_helper import digits, to_dataset

torch.manual_seed(0)
X, y = digits()
full = to_dataset(X / 16.0, y)
parts = random_split(full, [0.7, 0.15, 0.15], generator=torch.Generator().manual_seed(0))
loaders = {name: DataLoader(ds, batch_size=64, shuffle=name == "train")
           for name, ds in zip(("train", "val", "test"), parts)}


@torch.no_grad()
def report(model, epoch):
    model.eval()
    for name, loader in loaders.items():
        if name == "train":
            continue
        acc = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader) / len(loader.dataset)
        print(epoch, name, round(acc, 3))
    model.train()


model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    model.train()
    for xb, yb in loaders["train"]:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    report(model, epoch)
