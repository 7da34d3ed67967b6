"""Early stopping reads the test accuracy after every epoch, so the test split picks the
model it is then used to score. expect: TRN204"""
import copy

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def to_loader(X, y, shuffle: bool) -> DataLoader:
    ds = TensorDataset(torch.tensor(X / 16.0, dtype=torch.float32), torch.tensor(y))
    return DataLoader(ds, batch_size=64, shuffle=shuffle)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(dim=1) == y).sum().item()
    return correct / len(loader.dataset)


def main(epochs: int = 50, patience: int = 5) -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    train_loader = to_loader(X_train, y_train, shuffle=True)
    test_loader = to_loader(X_test, y_test, shuffle=False)

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    best_acc, best_state, bad_epochs = 0.0, None, 0
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        test_acc = evaluate(model, test_loader)
        if test_acc > best_acc:
            best_acc, best_state, bad_epochs = test_acc, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                break
    model.load_state_dict(best_state)
    print(f"test accuracy: {best_acc:.3f}")


if __name__ == "__main__":
    main()
