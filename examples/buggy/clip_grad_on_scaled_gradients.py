"""Mixed-precision training that clips the gradients while they are still multiplied by
the GradScaler's scale: nearly every step is clipped to a tiny update. expect: TRN406"""
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

MAX_GRAD_NORM = 1.0


def train(epochs: int = 10) -> nn.Module:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_amp = device.type == "cuda"
    X, y = load_digits(return_X_y=True)
    loader = DataLoader(TensorDataset(torch.tensor(X / 16.0, dtype=torch.float32), torch.tensor(y)), batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 10)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for x, target in loader:
            x, target = x.to(device), target.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = criterion(model(x), target)
            scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            scaler.step(optimizer)
            scaler.update()
    return model


if __name__ == "__main__":
    train()
