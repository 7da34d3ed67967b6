"""TRN101 on a pretrained generator sampled in a file that trains nothing (the "load the
pretrained GAN" notebooks shipped with model zoos): `G = Generator(ngpu=1)` with the class
imported from the project's training module, weights loaded, then `G(noise)` with no
`eval()`. Its batch norm normalises each sample with the rest of the batch. The name `G`
says nothing; the project's class does. The discriminator scoring those samples is the
same slip.

Look-alikes: the same sampling inside a GAN training loop (sampling is no evaluation
there), the inference script that calls `G.eval()`, and an MLP generator of the project
with no batch norm or dropout (harmless: at most an info). A loss module of the project
(`criterion = LossFactory()`, an nn.Module subclass) applied to validation predictions is no
model evaluated: its name and its class's name say loss.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

DCGAN = """
import torch.nn as nn


class Generator(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(nz, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, x):
        return self.main(x)


class PlainGenerator(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(nz, 32), nn.ReLU(), nn.Linear(32, 4), nn.Tanh())

    def forward(self, z):
        return self.main(z)
"""

SAMPLE = """
import torch
import matplotlib.pyplot as plt
from dcgan import Discriminator, Generator

D = Discriminator()
G = Generator()
D.load_state_dict(torch.load("netD.pth"))
G.load_state_dict(torch.load("netG.pth"))

fixed_noise = torch.randn(25, 16)
fake_images = G(fixed_noise)
plt.imshow(fake_images.detach().numpy())
plt.show()

outputs = D(fake_images)
print(outputs)
"""

SAMPLE_EVAL = SAMPLE.replace('G.load_state_dict(torch.load("netG.pth"))\n',
                             'G.load_state_dict(torch.load("netG.pth"))\nG.eval()\nD.eval()\n')

TRAIN = """
import torch
import torch.nn.functional as F
from dcgan import Discriminator, Generator

G = Generator()
D = Discriminator()
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
fixed_noise = torch.randn(25, 16)


def train(loader):
    for i, real in enumerate(loader):
        z = torch.randn(real.size(0), 16)
        opt_d.zero_grad()
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(G(z).detach())).mean()
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = F.softplus(-D(G(z))).mean()
        loss_g.backward()
        opt_g.step()
        if i % 100 == 0:
            with torch.no_grad():
                samples = G(fixed_noise)
            torch.save(samples, "samples.pt")
"""

PLAIN = """
import torch
from dcgan import PlainGenerator

G = PlainGenerator()
G.load_state_dict(torch.load("netG.pth"))
samples = G(torch.randn(25, 16))
torch.save(samples, "samples.pt")
"""

LOSSES = """
import torch
import torch.nn as nn


class LossFactory(nn.Module):
    def __init__(self, ignore_zero=True):
        super().__init__()
        self.ignore_zero = ignore_zero
        self.mse = nn.MSELoss()

    def forward(self, pred, label):
        return self.mse(pred, label)


class GaussianLoss(nn.Module):
    def forward(self, mu, label):
        return ((mu - label) ** 2).mean()
"""

VALIDATE = """
import torch
from losses import GaussianLoss, LossFactory


def eval_epoch(model, validation_data):
    model.eval()
    criterion = LossFactory()
    gaussian = GaussianLoss()
    total = 0.0
    with torch.no_grad():
        for sequence, label in validation_data:
            pred = model(sequence)
            total += criterion(pred, label).item() + gaussian(pred, label).item()
    return total
"""

CASES = {
    "losses.py": LOSSES,
    "validate.py": VALIDATE,
    "dcgan.py": DCGAN,
    "sample.py": SAMPLE,
    "sample_eval.py": SAMPLE_EVAL,
    "train_gan.py": TRAIN,
    "sample_plain.py": PLAIN,
}

EXPECTED = {
    "losses.py": [],
    "validate.py": [],
    "sample.py": [("TRN101", 11), ("TRN101", 15)],
    "sample_eval.py": [],
    "train_gan.py": [],
    "dcgan.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_pretrained_generators"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_the_generator_is_an_error_for_its_batch_norm(found):
    assert all(f["severity"] == "error" and "BatchNorm1d" in f["message"] for f in found["sample.py"])


def test_a_generator_with_no_mode_layer_is_at_most_an_info(found):
    assert all(f["severity"] == "info" for f in found["sample_plain.py"])
