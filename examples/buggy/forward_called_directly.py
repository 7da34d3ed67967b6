"""The logits are logged by a forward hook on the model, but prediction calls
model.forward(), which skips the model's hooks: nothing is logged. expect: TRN504"""
import torch
from sklearn.datasets import load_iris
from torch import nn

X, y = load_iris(return_X_y=True)
inputs = torch.tensor(X, dtype=torch.float32)

model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
captured: list[torch.Tensor] = []
model.register_forward_hook(lambda module, args, output: captured.append(output.detach()))

model.eval()
with torch.no_grad():
    predictions = model.forward(inputs).argmax(dim=1)
logged_logits = torch.cat(captured) if captured else None
