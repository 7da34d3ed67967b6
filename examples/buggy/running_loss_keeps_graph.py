"""The epoch's running loss adds up loss tensors, keeping every batch's autograd graph
alive until the end of the epoch. expect: TRN405"""
import torch
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def train_epoch(model: nn.Module, loader: DataLoader, optimizer, criterion) -> float:
    model.train()
    running_loss = 0.0
    for x, target in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        optimizer.step()
        running_loss += loss
    return float(running_loss) / len(loader)


if __name__ == "__main__":
    X, y = load_wine(return_X_y=True)
    X = torch.tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
    loader = DataLoader(TensorDataset(X, torch.tensor(y)), batch_size=16, shuffle=True)
    model = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(30):
        print(epoch, train_epoch(model, loader, optimizer, nn.CrossEntropyLoss()))
