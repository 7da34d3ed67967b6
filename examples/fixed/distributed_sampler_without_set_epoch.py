"""DDP training (run with torchrun): the DistributedSampler gets the epoch before each
epoch, so every epoch is shuffled anew."""
import torch
import torch.distributed as dist
from sklearn.datasets import load_digits
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main(epochs: int = 10) -> None:
    dist.init_process_group("gloo")
    X, y = load_digits(return_X_y=True)
    train_ds = TensorDataset(torch.tensor(X / 16.0, dtype=torch.float32), torch.tensor(y))
    sampler = DistributedSampler(train_ds, shuffle=True, seed=0)
    train_loader = DataLoader(train_ds, batch_size=32, sampler=sampler)

    model = DDP(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        if dist.get_rank() == 0:
            print(f"epoch {epoch}: last loss {loss.item():.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
