# TRN103: the trainer's validate() switches to eval mode through a helper; train mode never comes back.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader


def set_mode(model, mode):
    getattr(model, mode)()


class Trainer:
    def __init__(self, model, train, val):
        self.model, self.train_loader, self.val_loader = model, train, val
        self.opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        self.loss = nn.CrossEntropyLoss()

    def fit(self, epochs):
        set_mode(self.model, "train")
        for epoch in range(epochs):
            for xb, yb in self.train_loader:
                self.opt.zero_grad()
                self.loss(self.model(xb), yb).backward()
                self.opt.step()
            print(epoch, self.validate())

    @torch.no_grad()
    def validate(self):
        set_mode(self.model, "eval")
        return sum(self.loss(self.model(xb), yb).item() for xb, yb in self.val_loader)


torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_tr)
model = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))
Trainer(model, make_loader(scaler.transform(X_tr), y_tr, shuffle=True),
        make_loader(scaler.transform(X_va), y_va)).fit(3)
