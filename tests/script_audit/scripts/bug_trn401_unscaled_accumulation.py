# TRN401: gradient accumulation over ACCUM micro-batches; the loss returned by a helper is never divided.
import torch
from torch import nn
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

ACCUM = 4


def compute_loss(model, batch):
    xb, yb = batch
    return nn.functional.cross_entropy(model(xb), yb)


torch.manual_seed(0)
X, y = digits()
train = make_loader(StandardScaler().fit_transform(X), y, shuffle=True, batch_size=16)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
model.train()
for epoch in range(2):
    opt.zero_grad()
    for i, batch in enumerate(train):
        loss = compute_loss(model, batch)
        loss.backward()
        if (i + 1) % ACCUM == 0:
            opt.step()
            opt.zero_grad()
    print(epoch, loss.item())
