# Correct: a Lightning-free callback system; a validation callback switches modes properly, a
# LR-scheduler callback steps after the optimizer; tensors fed directly (no DataLoader) in slices.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from datasets_helper import cancer


class Callback:
    def on_batch_end(self, loop):
        pass

    def on_epoch_end(self, loop):
        pass


class Validate(Callback):
    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_epoch_end(self, loop):
        loop.model.eval()
        with torch.no_grad():
            logits = loop.model(self.X)
            acc = ((logits > 0).float() == self.y).float().mean().item()
        loop.model.train()
        print("val acc", round(acc, 3))


class Schedule(Callback):
    def __init__(self, sched):
        self.sched = sched

    def on_batch_end(self, loop):
        self.sched.step()


class Loop:
    def __init__(self, model, opt, callbacks):
        self.model, self.opt, self.callbacks = model, opt, callbacks
        self.criterion = nn.BCEWithLogitsLoss()

    def run(self, X, y, epochs, batch):
        for epoch in range(epochs):
            self.model.train()
            order = torch.randperm(len(X))
            for start in range(0, len(X), batch):
                idx = order[start:start + batch]
                self.opt.zero_grad()
                self.criterion(self.model(X[idx]).squeeze(1), y[idx]).backward()
                self.opt.step()
                for cb in self.callbacks:
                    cb.on_batch_end(self)
            for cb in self.callbacks:
                cb.on_epoch_end(self)


torch.manual_seed(0)
X, y = cancer()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
scaler = MinMaxScaler().fit(X_tr)
t = lambda a: torch.tensor(a, dtype=torch.float32)
model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=3 * 14)
Loop(model, opt, [Validate(t(scaler.transform(X_va)), t(y_va)[:, None].squeeze(1)), Schedule(sched)]).run(
    t(scaler.transform(X_tr)), t(y_tr), epochs=3, batch=32)
