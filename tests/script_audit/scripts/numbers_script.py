# The numbers-unchanged check: every source of randomness a training script usually has (init,
# dropout, shuffling, random_split, a seeded sklearn split), printed to full precision.
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, to_dataset

torch.manual_seed(1234)
X, y = digits()
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=7)
scaler = StandardScaler().fit(X_tr)
train_ds, val_ds = random_split(to_dataset(scaler.transform(X_tr), y_tr), [0.8, 0.2])
train = DataLoader(train_ds, batch_size=32, shuffle=True)
val = DataLoader(val_ds, batch_size=128)
model = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 10))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(2):
    model.train()
    total = 0.0
    for xb, yb in train:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item()
    model.eval()
    with torch.no_grad():
        val_loss = sum(nn.functional.cross_entropy(model(xb), yb, reduction="sum").item() for xb, yb in val)
    print(epoch, repr(total), repr(val_loss), repr(torch.rand(1).item()))
print("checksum", repr(sum(p.double().sum().item() for p in model.parameters())))
