# Pair: optimizer and scheduler built from a config through functools.partial, AMP with a GradScaler.
# BUG: the epoch hook steps the scheduler before the first optimizer step (TRN404).
import functools
import torch
from torch import nn
from datasets_helper import cancer, make_loader

CONFIG = {"optimizer": functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9),
          "scheduler": functools.partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.9),
          "epochs": 3}


def on_epoch_start(state):
    state["scheduler"].step()


torch.manual_seed(0)
X, y = cancer()
X = (X - X.mean(0)) / X.std(0)
train = make_loader(X, y, batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1))
opt = CONFIG["optimizer"](model.parameters())
state = {"scheduler": CONFIG["scheduler"](opt)}
scaler = torch.amp.GradScaler("cpu")
for epoch in range(CONFIG["epochs"]):
    on_epoch_start(state)
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.binary_cross_entropy_with_logits(model(xb).squeeze(1).float(), yb)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    print(epoch, state["scheduler"].get_last_lr())
