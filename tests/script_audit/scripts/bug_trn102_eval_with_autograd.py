# TRN102: evaluation in eval mode, but through a bound-method alias and with autograd on.
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
X_va_t = torch.tensor(scaler.transform(X_va), dtype=torch.float32)

model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
score = lambda f, X, y: (f(X).argmax(1) == torch.as_tensor(y)).float().mean().item()
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    model.eval()
    print(epoch, round(score(model, X_va_t, y_va), 3))
