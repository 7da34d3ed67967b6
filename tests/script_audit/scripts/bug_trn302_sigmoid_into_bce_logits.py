# TRN302: the head's activation comes from a config string; BCEWithLogitsLoss then applies sigmoid again.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import cancer, make_loader

CONFIG = {"hidden": 16, "head_activation": "Sigmoid"}


class Net(nn.Module):
    def __init__(self, d, cfg):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, cfg["hidden"]), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(cfg["hidden"], 1), getattr(nn, cfg["head_activation"])())

    def forward(self, x):
        return self.head(self.body(x)).squeeze(1)


torch.manual_seed(0)
X, y = cancer()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_tr)
train = make_loader(scaler.transform(X_tr), y_tr, shuffle=True, batch_size=32)
model = Net(X.shape[1], CONFIG)
criterion = nn.BCEWithLogitsLoss()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model.train()
for epoch in range(2):
    for xb, yb in train:
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
print("done")
