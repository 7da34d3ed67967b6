# TRN404: an event table runs the scheduler at the *start* of each epoch, before any optimizer step.
import torch
from torch import nn
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

torch.manual_seed(0)
X, y = digits()
train = make_loader(StandardScaler().fit_transform(X), y, shuffle=True)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
events = {"epoch_start": [sched.step], "epoch_end": []}
model.train()
for epoch in range(3):
    for fn in events["epoch_start"]:
        fn()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    print(epoch, sched.get_last_lr())
