# Pair: an imbalanced binary task, the minority class oversampled by repetition, then a scaler.
# BUG: oversampling happens before train_test_split, so copies of the same rows land in both
# parts; one cause, reported once (TRN207 at the split), not again as a scaler leak.
import numpy as np
import torch
from torch import nn
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import make_loader


def oversample(X, y, rng):
    minority = np.flatnonzero(y == 0)
    extra = rng.choice(minority, size=(y == 1).sum() - len(minority), replace=True)
    keep = np.concatenate([np.arange(len(y)), extra])
    return X[keep], y[keep]


torch.manual_seed(0)
X, y = load_breast_cancer(return_X_y=True)
y = y.astype(np.float32)
X, y = oversample(X, y, np.random.RandomState(0))
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_tr)
train = make_loader(scaler.transform(X_tr), y_tr, shuffle=True)
test = make_loader(scaler.transform(X_te), y_te)
model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(model(xb).squeeze(1), yb).backward()
        opt.step()
model.eval()
with torch.no_grad():
    print("test acc", sum(((model(xb).squeeze(1) > 0).float() == yb).sum().item() for xb, yb in test))
