# Correct: a DCGAN-style loop, two optimizers, two backward calls per discriminator step on one batch
# (summed on purpose: not unscaled accumulation), generator output reused for its own loss.
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
real = DataLoader(TensorDataset(torch.randn(512, 8) * 0.5 + 1), batch_size=64, shuffle=True)
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
D = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
oG, oD = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
bce = nn.BCEWithLogitsLoss()
for epoch in range(3):
    for (x,) in real:
        z = torch.randn(len(x), 4)
        fake = G(z)
        D.zero_grad()
        errD_real = bce(D(x).squeeze(1), torch.ones(len(x)))
        errD_real.backward()
        errD_fake = bce(D(fake.detach()).squeeze(1), torch.zeros(len(x)))
        errD_fake.backward()
        oD.step()
        G.zero_grad()
        errG = bce(D(fake).squeeze(1), torch.ones(len(x)))
        errG.backward()
        oG.step()
    print(epoch, errD_real.item() + errD_fake.item(), errG.item())
