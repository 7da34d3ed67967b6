"""Mixed-precision training on the deprecated torch.cuda.amp API. expect: TRN409"""
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.cuda.amp import GradScaler, autocast
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
use_amp = device.type == "cuda"

X, y = load_breast_cancer(return_X_y=True)
X = torch.tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
y = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)

model = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 1)).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.BCEWithLogitsLoss()
scaler = GradScaler(enabled=use_amp)

for epoch in range(20):
    model.train()
    for x, target in loader:
        x, target = x.to(device), target.to(device)
        optimizer.zero_grad(set_to_none=True)
        with autocast(enabled=use_amp):
            loss = criterion(model(x), target)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
