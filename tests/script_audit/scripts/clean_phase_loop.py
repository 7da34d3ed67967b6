# Correct: the `for phase in ("train", "val")` idiom with set_grad_enabled, on iris (which has a
# duplicated row: natural duplicates are not an overlapping split).
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

torch.manual_seed(0)
X, y = load_iris(return_X_y=True)
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, random_state=1, stratify=y)
scaler = StandardScaler()
X_tr = scaler.fit_transform(X_tr)
X_va = scaler.transform(X_va)
data = {"train": (X_tr, y_tr), "val": (X_va, y_va)}
loaders = {phase: DataLoader(TensorDataset(torch.tensor(Xp, dtype=torch.float32), torch.tensor(yp)),
                             batch_size=16, shuffle=phase == "train") for phase, (Xp, yp) in data.items()}
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 3))
opt = torch.optim.Adam(model.parameters(), lr=0.05)
criterion = nn.CrossEntropyLoss()
for epoch in range(5):
    for phase in ("train", "val"):
        model.train() if phase == "train" else model.eval()
        running = 0.0
        with torch.set_grad_enabled(phase == "train"):
            for xb, yb in loaders[phase]:
                loss = criterion(model(xb), yb)
                if phase == "train":
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                running += loss.item() * len(yb)
        print(epoch, phase, round(running / len(loaders[phase].dataset), 4))
