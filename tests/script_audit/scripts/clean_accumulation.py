# Correct: gradient accumulation, the loss divided by the micro-batches of the current window
# (the last, shorter window too), zero_grad after the step, scheduler after the optimizer.
import math
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

ACCUM = 4
torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_tr)
train = make_loader(scaler.transform(X_tr), y_tr, shuffle=True, batch_size=16)
val = make_loader(scaler.transform(X_va), y_va, batch_size=128)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
steps_per_epoch = math.ceil(len(train) / ACCUM)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3 * steps_per_epoch)
for epoch in range(3):
    model.train()
    opt.zero_grad()
    n = len(train)
    for i, (xb, yb) in enumerate(train):
        window = min(ACCUM, n - (i // ACCUM) * ACCUM)
        loss = nn.functional.cross_entropy(model(xb), yb) / window
        loss.backward()
        if (i + 1) % ACCUM == 0 or i + 1 == n:
            opt.step()
            sched.step()
            opt.zero_grad()
    model.eval()
    with torch.no_grad():
        print(epoch, sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val) / len(val.dataset))
