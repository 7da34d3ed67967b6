"""TRN403 across modules: a loop calls, every iteration, another module's function or method
that back-propagates and steps but never clears gradients (an RL agent's `learn()` driven
from `main.py`). Bugs and correct look-alikes through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

AGENT = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Agent:
    def __init__(self, n):
        self.q = nn.Linear(n, 2)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=1e-3)

    def learn(self, states, targets):
        {clear}
        loss = F.mse_loss(self.q(states), targets)
        loss.backward()
        self.optimizer.step()
        return loss.item()
"""

MAIN = """
import torch
from agent import Agent

agent = Agent(4)
for episode in range(100):
    {clear}
    print(agent.learn(torch.randn(8, 4), torch.randn(8, 2)))
"""

HELPERS = """
import torch.nn.functional as F


def train_step(model, opt, x, y):
    {clear}
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()
"""

SCRIPT = """
import torch
from helpers import train_step

model = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(100):
    train_step(model, opt, torch.randn(8, 4), torch.randn(8, 2))
"""

CHAINED = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Agent:
    def __init__(self, n):
        self.q = nn.Linear(n, 2)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=1e-3)
        self.memory = []

    def step(self, state, target):
        self.memory.append((state, target))
        if len(self.memory) > 10:
            self.learn(self.memory[-8:])

    def learn(self, batch):
        states = torch.stack([b[0] for b in batch])
        targets = torch.stack([b[1] for b in batch])
        {clear}
        loss = F.mse_loss(self.q(states), targets)
        loss.backward()
        self.optimizer.step()
"""

CHAINED_MAIN = """
import torch
from agent import Agent

agent = Agent(4)
for t in range(1000):
    agent.step(torch.randn(4), torch.randn(2))
"""

TRAINERS = """
import torch
import torch.nn as nn


class GanTrainer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gen = nn.Linear(4, 4)
        self.gen_opt = torch.optim.Adam(self.gen.parameters())

    def gen_update(self, x):
        {clear}
        loss = self.gen(x).pow(2).mean()
        loss.backward()
        self.gen_opt.step()


class VaeTrainer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gen = nn.Linear(4, 4)
        self.gen_opt = torch.optim.Adam(self.gen.parameters())

    def gen_update(self, x):
        self.gen_opt.zero_grad()
        loss = self.gen(x).pow(2).mean()
        loss.backward()
        self.gen_opt.step()
"""

# The trainer class is chosen by a flag: on the GanTrainer path the loop never clears.
CHOSEN_MAIN = """
import sys
import torch
from trainers import GanTrainer, VaeTrainer

if sys.argv[1] == "gan":
    trainer = GanTrainer({})
elif sys.argv[1] == "vae":
    trainer = VaeTrainer({})
else:
    sys.exit("gan|vae")
for it in range(100):
    trainer.gen_update(torch.randn(2, 4))
    print(trainer.gen.weight.sum())
"""

# A driver that imports no torch (gym and the agent's module only), as RL scripts do.
GYM_MAIN = """
import gym
from agent import Agent

env = gym.make("CartPole-v1")
agent = Agent(4)
for episode in range(100):
    state = env.reset()
    {clear}
    agent.learn(state, env.step(0))
"""

CASES = {
    "gym_never_cleared/agent.py": AGENT.format(clear="pass"),
    "gym_never_cleared/main.py": GYM_MAIN.format(clear="pass"),
    "gym_clears/agent.py": AGENT.format(clear="self.optimizer.zero_grad()"),
    "gym_clears/main.py": GYM_MAIN.format(clear="pass"),
    "gym_caller_clears/agent.py": AGENT.format(clear="pass"),
    "gym_caller_clears/main.py": GYM_MAIN.format(clear="agent.optimizer.zero_grad()"),
    "chosen_one_never_clears/trainers.py": TRAINERS.format(clear="pass"),
    "chosen_one_never_clears/main.py": CHOSEN_MAIN,
    "chosen_both_clear/trainers.py": TRAINERS.format(clear="self.gen_opt.zero_grad()"),
    "chosen_both_clear/main.py": CHOSEN_MAIN,
    "chained_never_cleared/agent.py": CHAINED.format(clear="pass"),
    "chained_never_cleared/main.py": CHAINED_MAIN,
    "chained_clears/agent.py": CHAINED.format(clear="self.optimizer.zero_grad()"),
    "chained_clears/main.py": CHAINED_MAIN,
    "chained_in_file.py": CHAINED.format(clear="pass") + """

agent = Agent(4)
for t in range(1000):
    agent.step(torch.randn(4), torch.randn(2))
""",
    "agent_never_cleared/agent.py": AGENT.format(clear="pass"),
    "agent_never_cleared/main.py": MAIN.format(clear="pass"),
    "agent_clears/agent.py": AGENT.format(clear="self.optimizer.zero_grad()"),
    "agent_clears/main.py": MAIN.format(clear="pass"),
    "caller_clears/agent.py": AGENT.format(clear="pass"),
    "caller_clears/main.py": MAIN.format(clear="agent.optimizer.zero_grad()"),
    "function_never_cleared/helpers.py": HELPERS.format(clear="pass"),
    "function_never_cleared/main.py": SCRIPT,
    "function_clears/helpers.py": HELPERS.format(clear="opt.zero_grad()"),
    "function_clears/main.py": SCRIPT,
}

EXPECTED = {
    "gym_never_cleared/main.py": [("TRN403", 9)],
    "gym_clears/main.py": [],
    "gym_caller_clears/main.py": [],
    "chosen_one_never_clears/main.py": [("TRN403", 12)],
    "chosen_both_clear/main.py": [],
    "chained_never_cleared/main.py": [("TRN403", 6)],
    "chained_clears/main.py": [],
    "chained_in_file.py": [("TRN403", 28)],
    "agent_never_cleared/main.py": [("TRN403", 7)],
    "agent_clears/main.py": [],
    "caller_clears/main.py": [],
    "function_never_cleared/main.py": [("TRN403", 7)],
    "function_clears/main.py": [],
    "agent_never_cleared/agent.py": [],
    "function_never_cleared/helpers.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("imported_steps"), CASES, "TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
