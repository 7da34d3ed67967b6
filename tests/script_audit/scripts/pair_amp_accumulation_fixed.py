# Pair: bf16 autocast + GradScaler + gradient accumulation, the loss weighted by a per-run factor.
# Correct: each micro-batch loss is divided by the number of micro-batches before scaling.
import torch
from torch import nn
from datasets_helper import digits, make_loader

ACCUM, WEIGHT = 4, 1.0
torch.manual_seed(0)
X, y = digits()
train = make_loader(X / 16.0, y, batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 10))
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=2 * len(train) // ACCUM + 1)
scaler = torch.amp.GradScaler("cpu")
criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
for epoch in range(2):
    model.train()
    opt.zero_grad(set_to_none=True)
    for i, (xb, yb) in enumerate(train):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = criterion(model(xb), yb)
        scaler.scale(loss * WEIGHT / ACCUM).backward()
        if (i + 1) % ACCUM == 0:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            opt.zero_grad(set_to_none=True)
    print(epoch, round(loss.item(), 3))
