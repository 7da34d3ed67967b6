# TRN301: the layer list is built in a loop from a spec; its last activation is a softmax.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

SPEC = [(64, 64, "ReLU"), (64, 10, "Softmax")]


def build(spec):
    layers = []
    for n_in, n_out, act in spec:
        layers += [nn.Linear(n_in, n_out), getattr(nn, act)(**({"dim": 1} if act == "Softmax" else {}))]
    return nn.Sequential(*layers)


torch.manual_seed(0)
X, y = digits()
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_tr)
train = make_loader(scaler.transform(X_tr), y_tr, shuffle=True)
model = build(SPEC)
criterion = nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
model.train()
for epoch in range(2):
    total = 0.0
    for xb, yb in train:
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item()
    print(epoch, round(total, 3))
