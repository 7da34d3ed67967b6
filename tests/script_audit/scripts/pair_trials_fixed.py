# Pair: a small learning-rate search; every trial builds a new model and optimizer (the old ones
# are freed, so new objects may reuse their ids); gradients cleared every step (correct).
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from datasets_helper import digits, make_loader

torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
train, val = make_loader(X_tr, y_tr, shuffle=True), make_loader(X_va, y_va)


def run_trial(lr):
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val) / len(val.dataset)


results = {lr: run_trial(lr) for lr in (0.01, 0.03, 0.1)}
print("best lr", max(results, key=results.get))
