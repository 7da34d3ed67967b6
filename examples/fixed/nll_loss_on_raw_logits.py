"""NLLLoss gets log-probabilities: log_softmax is applied to the logits first."""
import torch
import torch.nn.functional as F
from sklearn.datasets import load_iris
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class IrisNet(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, hidden)
        self.out = nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


X, y = load_iris(return_X_y=True)
loader = DataLoader(TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y)), batch_size=16, shuffle=True)
model = IrisNet()
criterion = nn.NLLLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(100):
    model.train()
    for x, target in loader:
        optimizer.zero_grad()
        loss = criterion(F.log_softmax(model(x), dim=1), target)
        loss.backward()
        optimizer.step()
