"""Train mode is set once before the epoch loop; validation leaves the model in eval mode
from the second epoch on, so dropout and batch norm stop training. expect: TRN103"""
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_loaders() -> tuple[DataLoader, DataLoader]:
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    train_ds = TensorDataset(torch.tensor(X_train, dtype=torch.float32), torch.tensor(y_train))
    val_ds = TensorDataset(torch.tensor(X_val, dtype=torch.float32), torch.tensor(y_val))
    return DataLoader(train_ds, batch_size=64, shuffle=True), DataLoader(val_ds, batch_size=256)


def fit(epochs: int = 20) -> None:
    train_loader, val_loader = make_loaders()
    model = nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += (model(x).argmax(dim=1) == y).sum().item()
        print(f"epoch {epoch}: val accuracy {correct / len(val_loader.dataset):.3f}")


if __name__ == "__main__":
    fit()
