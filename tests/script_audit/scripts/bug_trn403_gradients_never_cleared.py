# TRN403: a step helper calls backward and step; clearing was "left to the optimizer".
import torch
from torch import nn
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader


def train_step(model, opt, xb, yb):
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss.item()


torch.manual_seed(0)
X, y = digits()
train = make_loader(StandardScaler().fit_transform(X), y, shuffle=True)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
model.train()
for epoch in range(2):
    losses = [train_step(model, opt, xb, yb) for xb, yb in train]
    print(epoch, round(sum(losses) / len(losses), 3))
