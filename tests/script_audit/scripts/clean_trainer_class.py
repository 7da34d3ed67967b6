# Correct: a trainer class with early stopping on validation loss and a best state_dict;
# data split with random_split into train/val/test, the test split evaluated once after training.
import copy
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from datasets_helper import digits, to_dataset


class Trainer:
    def __init__(self, model, loaders, lr=1e-2, patience=2):
        self.model, self.loaders, self.patience = model, loaders, patience
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr)
        self.criterion = nn.CrossEntropyLoss()
        self.best = (float("inf"), None)

    def train_epoch(self):
        self.model.train()
        for xb, yb in self.loaders["train"]:
            self.opt.zero_grad(set_to_none=True)
            self.criterion(self.model(xb), yb).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()

    @torch.inference_mode()
    def evaluate(self, split):
        self.model.eval()
        total = sum(self.criterion(self.model(xb), yb).item() * len(yb) for xb, yb in self.loaders[split])
        self.model.train()
        return total / len(self.loaders[split].dataset)

    def fit(self, epochs):
        bad = 0
        for epoch in range(epochs):
            self.train_epoch()
            val = self.evaluate("val")
            print(epoch, round(val, 4))
            if val < self.best[0]:
                self.best, bad = (val, copy.deepcopy(self.model.state_dict())), 0
            else:
                bad += 1
                if bad >= self.patience:
                    break
        self.model.load_state_dict(self.best[1])
        return self.evaluate("test")


torch.manual_seed(0)
X, y = digits()
parts = random_split(to_dataset(X / 16.0, y), [0.7, 0.15, 0.15], generator=torch.Generator().manual_seed(0))
loaders = {name: DataLoader(ds, batch_size=64, shuffle=(name == "train"))
           for name, ds in zip(("train", "val", "test"), parts)}
model = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))
print("test loss", round(Trainer(model, loaders).fit(4), 4))
