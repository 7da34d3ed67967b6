# TRN203: every loader comes from one config factory whose default is shuffle=True.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

CONFIG = {"train": {"batch_size": 32}, "valid": {"batch_size": 128}}


def loaders_from_config(splits):
    return {name: make_loader(*splits[name], shuffle=CONFIG[name].get("shuffle", True),
                              batch_size=CONFIG[name]["batch_size"]) for name in CONFIG}


torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_tr)
loaders = loaders_from_config({"train": (scaler.transform(X_tr), y_tr), "valid": (scaler.transform(X_va), y_va)})
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    model.train()
    for xb, yb in loaders["train"]:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, sum(nn.functional.cross_entropy(model(xb), yb).item() for xb, yb in loaders["valid"]))
