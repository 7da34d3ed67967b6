# TRN408: heads are built from a config list; the forward only ever uses the first one.
import torch
from torch import nn
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

HEADS = {"digit": 10, "parity": 2}


class MultiHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(32, n) for name, n in HEADS.items()})

    def forward(self, x):
        return self.heads[next(iter(HEADS))](self.body(x))


torch.manual_seed(0)
X, y = digits()
train = make_loader(StandardScaler().fit_transform(X), y, shuffle=True)
model = MultiHead()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model.train()
for epoch in range(2):
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
print("done")
