# TRN201: the scaler is fitted on whatever `pick` returns, which is the held-out part.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader


def pick(parts, name):
    return parts[{"train": 0, "holdout": 1}[name]]


def build_preprocessor(reference):
    return StandardScaler().fit(reference)


torch.manual_seed(0)
X, y = digits()
parts = train_test_split(X, y, test_size=0.3, random_state=0)
X_tr, X_ho, y_tr, y_ho = parts
prep = build_preprocessor(pick(parts, "holdout"))
train = make_loader(prep.transform(X_tr), y_tr, shuffle=True)
holdout = make_loader(prep.transform(X_ho), y_ho)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(2):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
model.eval()
with torch.inference_mode():
    print(sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in holdout))
