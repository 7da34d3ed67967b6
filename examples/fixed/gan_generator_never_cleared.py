"""The same GAN with each optimizer clearing its own gradients. The generator updates once
every n_critic batches with its own backward: a schedule, not gradient accumulation."""
import torch
from torch import nn


def train(generator: nn.Module, critic: nn.Module, loader, epochs: int = 5, n_critic: int = 5) -> None:
    opt_g = torch.optim.RMSprop(generator.parameters(), lr=5e-5)
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    for epoch in range(epochs):
        for i, real in enumerate(loader):
            opt_c.zero_grad()
            fake = generator(torch.randn(real.size(0), 16)).detach()
            loss_c = critic(fake).mean() - critic(real).mean()
            loss_c.backward()
            opt_c.step()
            if i % n_critic == 0:
                opt_g.zero_grad()
                loss_g = -critic(generator(torch.randn(real.size(0), 16))).mean()
                loss_g.backward()
                opt_g.step()


if __name__ == "__main__":
    gen = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    crit = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
    data = [torch.randn(64, 2) + 3.0 for _ in range(20)]
    train(gen, crit, data)
