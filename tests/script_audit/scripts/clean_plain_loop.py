# Correct: plain loop. Train/val/test by two train_test_split calls, scaler fitted on train only,
# train accuracy measured on the training loader too, scheduler after the optimizer, test once at the end.
import torch
from torch import nn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader

torch.manual_seed(0)
X, y = digits()
X_tmp, X_te, y_tmp, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
X_tr, X_va, y_tr, y_va = train_test_split(X_tmp, y_tmp, test_size=0.2, random_state=0, stratify=y_tmp)
scaler = StandardScaler().fit(X_tr)
train = make_loader(scaler.transform(X_tr), y_tr, shuffle=True)
train_eval = make_loader(scaler.transform(X_tr), y_tr, batch_size=256)
val = make_loader(scaler.transform(X_va), y_va, batch_size=256)
test = make_loader(scaler.transform(X_te), y_te, batch_size=256)

model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
criterion = nn.CrossEntropyLoss()


def accuracy(loader):
    model.eval()
    with torch.no_grad():
        hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
    return hits / len(loader.dataset)


for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
    sched.step()
    print(epoch, round(accuracy(train_eval), 3), round(accuracy(val), 3))
print("test", round(accuracy(test), 3))
