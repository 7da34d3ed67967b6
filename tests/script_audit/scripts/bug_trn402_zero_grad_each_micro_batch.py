# TRN402: accumulation done with a helper that clears gradients on every micro-batch.
import torch
from torch import nn
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

ACCUM = 4


def micro_step(model, opt, batch):
    opt.zero_grad()
    xb, yb = batch
    loss = nn.functional.cross_entropy(model(xb), yb) / ACCUM
    loss.backward()
    return loss.item()


torch.manual_seed(0)
X, y = digits()
train = make_loader(StandardScaler().fit_transform(X), y, shuffle=True, batch_size=16)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
model.train()
for epoch in range(2):
    for i, batch in enumerate(train):
        micro_step(model, opt, batch)
        if (i + 1) % ACCUM == 0:
            opt.step()
print("done")
