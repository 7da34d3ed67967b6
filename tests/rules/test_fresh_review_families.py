"""False alarms met in a precision review of fresh code (session 13), through the real command.

Each family has its look-alike (silent) and the bug it resembles (flagged):
- TRN102, a detector whose `forward` returns a `@torch.no_grad()` inference method on its
  inference branch (`if not self.trainable: return self.inference(x)`): evaluating it
  records no graph, whether its class is seen at the call (a demo building it) or not (an
  evaluator handed the model). The bug: the same project whose class has such a method
  that `forward` never calls; and a plain model evaluated beside a dispatching one.
- TRN102, a GAN's generator output handed (undetached) to a helper of another module,
  star-imported (also by bare name from a script inside a package), that back-propagates
  the discriminator's loss on it: a training forward.
  The bug: the same output handed only to a metric helper of that module.
- TRN102, an RL agent's `evaluate(states, actions)` (the PPO meaning: the current policy's
  values and the log-probabilities of a `torch.distributions` object, handed back for the
  loss) with no caller in sight. The bug: an agent method that loops over evaluation data
  and reads the values as numbers (and, in test_mode.py, a method handing back one output
  of its model with no distribution: `attribute_model_bad.py`).

Each case is its own project (one run each): whether a class of the run turns gradients
off is a fact of the whole run.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

DETECTOR = """
import torch
import torch.nn as nn


class Detector(nn.Module):
    def __init__(self, trainable=False):
        super().__init__()
        self.trainable = trainable
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 4, 1)

    @torch.no_grad()
    def inference(self, x):
        scores = self.head(self.backbone(x)).sigmoid()
        return scores.cpu().numpy()

    def forward(self, x):
        {body}


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))

    def forward(self, x):
        return self.net(x)
"""
DISPATCH = "if not self.trainable:\n            return self.inference(x)\n        return self.head(self.backbone(x))"
NO_DISPATCH = "return self.head(self.backbone(x))"

EVALUATOR = """
import numpy as np
import torch


class Evaluator:
    def __init__(self, images):
        self.images = images

    def evaluate(self, net):
        net.eval()
        best = []
        for image in self.images:
            scores = net(image)
            best.append(np.max(scores))
        return float(np.mean(best))
"""

TRAIN = """
import torch
from evaluator import Evaluator
from models import Detector


def main(loader, images, epochs):
    model = Detector(trainable=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            loss = (model(x) - y).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.trainable = False
        print(Evaluator(images).evaluate(model))
        model.trainable = True
"""

DEMO = """
import torch
from models import {cls}


def detect(net, images):
    for image in images:
        scores = net(image)
        print(scores.max())


def run(images):
    model = {cls}()
    model.load_state_dict(torch.load("weights.pth", weights_only=True))
    model.eval()
    detect(model, images)
"""

GAN_STEPS = """
import torch


def make_noise(n):
    return torch.randn(n, 16)


def train_discriminator(data, label, discriminator, criterion):
    error = criterion(discriminator(data).view(-1), label)
    error.backward()
    return error


def train_generator(discriminator, fake, label, criterion):
    output = discriminator(fake).view(-1)
    error = criterion(output, label)
    error.backward()
    return error, output.mean().item()


def fake_score(discriminator, fake, label, criterion):
    output = discriminator(fake).view(-1)
    return criterion(output, label), output.mean().item()
"""

GAN_TRAIN = """
import torch
from gan_steps import *


def train(loader, discriminator, generator, opt_d, opt_g, criterion, epochs):
    for epoch in range(epochs):
        losses = []
        for real, _ in loader:
            discriminator.zero_grad()
            label = torch.ones(real.size(0))
            train_discriminator(real, label, discriminator, criterion)
            fake = generator(make_noise(real.size(0)))
            label.fill_(0.0)
            train_discriminator(fake.detach(), label, discriminator, criterion)
            opt_d.step()
            generator.zero_grad()
            label.fill_(1.0)
            error, _ = {helper}(discriminator, fake, label, criterion)
            opt_g.step()
            losses.append(error.item())
        print(epoch, sum(losses) / len(losses))
"""

AGENT = """
import torch
import torch.nn as nn
from torch.distributions import Categorical


class Agent:
    def __init__(self, state_dim, n_actions):
        self.actor = nn.Sequential(nn.Linear(state_dim, 64), nn.Tanh(), nn.Linear(64, n_actions), nn.Softmax(-1))
        self.critic = nn.Sequential(nn.Linear(state_dim, 64), nn.Tanh(), nn.Linear(64, 1))

{method}
"""
PPO_EVALUATE = """
    def evaluate(self, states, actions):
        values = self.critic(states).squeeze()
        dist = Categorical(self.actor(states))
        return values, dist.log_prob(actions)
"""
LOOPED_EVALUATE = """
    def evaluate(self, episodes):
        total = 0.0
        for states in episodes:
            total += self.critic(states).mean().item()
        return total / len(episodes)
"""

PROJECTS = {
    # The detector dispatches to its no_grad inference: silent at both calls.
    "dispatch": {"models.py": DETECTOR.replace("{body}", DISPATCH), "evaluator.py": EVALUATOR, "train.py": TRAIN,
                 "demo.py": DEMO.replace("{cls}", "Detector")},
    # No dispatch: both evaluation forwards build a graph.
    "no_dispatch": {"models.py": DETECTOR.replace("{body}", NO_DISPATCH), "evaluator.py": EVALUATOR, "train.py": TRAIN,
                    "demo.py": DEMO.replace("{cls}", "Detector")},
    # The demo evaluates the plain classifier of a project that also has a dispatching detector.
    "plain_beside": {"models.py": DETECTOR.replace("{body}", DISPATCH), "demo.py": DEMO.replace("{cls}", "Classifier")},
    "gan_backprop": {"gan_steps.py": GAN_STEPS, "train.py": GAN_TRAIN.replace("{helper}", "train_generator")},
    # The same in a package whose scripts import their siblings by bare name (run from there).
    "gan_package": {"scripts/__init__.py": "", "scripts/gan_steps.py": GAN_STEPS,
                    "scripts/train.py": GAN_TRAIN.replace("{helper}", "train_generator")},
    "gan_metric": {"gan_steps.py": GAN_STEPS, "train.py": GAN_TRAIN.replace("{helper}", "fake_score")},
    "ppo_evaluate": {"agent.py": AGENT.replace("{method}", PPO_EVALUATE)},
    "looped_evaluate": {"agent.py": AGENT.replace("{method}", LOOPED_EVALUATE)},
}

EXPECTED = {
    ("dispatch", "evaluator.py"): [],
    ("dispatch", "train.py"): [],
    ("dispatch", "demo.py"): [],
    ("no_dispatch", "evaluator.py"): [("TRN102", 13)],
    ("no_dispatch", "demo.py"): [("TRN102", 7)],
    ("no_dispatch", "train.py"): [],
    ("plain_beside", "demo.py"): [("TRN102", 7)],
    ("gan_backprop", "train.py"): [],
    ("gan_package", "scripts/train.py"): [],
    ("gan_metric", "train.py"): [("TRN102", 12)],
    ("ppo_evaluate", "agent.py"): [],
    ("looped_evaluate", "agent.py"): [("TRN102", 15)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    results = {}
    for project, files in PROJECTS.items():
        by_file = run_cases(tmp_path_factory.mktemp(project), files, "TRN102")
        results.update({(project, name): findings for name, findings in by_file.items()})
    return results


@pytest.mark.parametrize("case", sorted(EXPECTED), ids=lambda case: "-".join(case))
def test_fresh_review_family(found, case):
    assert codes_lines(found[case]) == EXPECTED[case]
