"""A GAN whose critic clears its own gradients every batch but whose generator never does:
the critic's `zero_grad()` says nothing about the generator's optimizer, so every generator
step applies the sum of all its gradients so far. expect: TRN403"""
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
                loss_g = -critic(generator(torch.randn(real.size(0), 16))).mean()
                loss_g.backward()
                opt_g.step()


if __name__ == "__main__":
    gen = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    crit = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
    data = [torch.randn(64, 2) + 3.0 for _ in range(20)]
    train(gen, crit, data)
