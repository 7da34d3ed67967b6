# TRN101: a metric callback evaluates under no_grad, but nobody calls model.eval(); the model has dropout.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_tr)
train = make_loader(scaler.transform(X_tr), y_tr, shuffle=True)
val = make_loader(scaler.transform(X_va), y_va)


class Accuracy:
    def __init__(self, loader):
        self.loader = loader

    @torch.no_grad()
    def __call__(self, model, epoch):
        hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in self.loader)
        print(f"epoch {epoch} val acc {hits / len(self.loader.dataset):.3f}")


model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
loss_fn = nn.CrossEntropyLoss()
callbacks = [Accuracy(val)]
model.train()
for epoch in range(3):
    for xb, yb in train:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    for cb in callbacks:
        cb(model, epoch)
