"""A regression loop that clears the gradients before every backward pass."""
import torch
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def train(model: nn.Module, loader: DataLoader, epochs: int = 50) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    criterion = nn.MSELoss()
    for epoch in range(epochs):
        model.train()
        for x, target in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), target)
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    X, y = load_diabetes(return_X_y=True)
    X = torch.tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
    y = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32).unsqueeze(1)
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 1))
    train(model, DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True))
