"""TRN101/TRN102 through a method of the file's model class that runs its layers for the
caller (`agent.get_action_and_value(obs)`, `net.embed(x)`): the call is a forward pass of
the object, evaluation when its data or names say so; for a model class of another module,
when every model class of the run defining that method runs its layers there. Each bug
beside its look-alikes, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

AGENT = """
import torch
import torch.nn as nn


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 2))
        self.critic = nn.Linear(4, 1)

    def get_action_and_value(self, x, action=None):
        {switch}
        probs = torch.distributions.Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


agent = Agent()
opt = torch.optim.Adam(agent.parameters())
for update in range(100):
    agent.train()
    with torch.no_grad():
        for obs in range(128):
            action, logp, _, value = agent.get_action_and_value(next_obs)
            next_obs = envs.step(action)
    for x, a in rollouts:
        _, logp, ent, v = agent.get_action_and_value(x, a)
        loss = -(logp * adv).mean() - 0.01 * ent.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    {before}
    {context}
        returns = 0.0
        for x in test_envs:
            action, _, _, _ = agent.get_action_and_value(x)
            returns += float(action.sum().item())
    print(returns)
"""


def _agent(switch: str = "pass", before: str = "pass", context: str = "with torch.no_grad():") -> str:
    return AGENT.format(switch=switch, before=before, context=context)


CASES = {
    # Bug (TRN101): the test episodes run the agent in training mode (its actor has dropout).
    "method_in_train_mode.py": _agent(),
    # Bug (TRN102): in eval mode but with autograd on.
    "method_with_autograd.py": _agent(before="agent.eval()", context="if True:"),
    # Look-alike: eval mode and no_grad before the test episodes. The rollouts collected
    # in training mode under no_grad (no evaluation data) are not evaluation either.
    "method_done_right.py": _agent(before="agent.eval()"),
    # Look-alike: the method switches the mode itself.
    "method_switches.py": _agent(switch="self.eval()"),
}

AGENT_MODULE = """
import torch.nn as nn


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 2))

    def act(self, x):
        {switch}
        return self.actor(x).argmax(-1)

    def forward(self, x):
        return self.actor(x)
"""

MAIN = """
import torch
from agent import Agent

agent = Agent()
opt = torch.optim.Adam(agent.parameters())
for update in range(100):
    agent.train()
    for x, y in train_loader:
        loss = torch.nn.functional.cross_entropy(agent(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    {before}
    with torch.no_grad():
        correct = 0
        for x, y in test_loader:
            correct += (agent.act(x) == y).sum().item()
    print(correct)
"""

CASES.update({
    # Bug: the agent class lives in another module; its act() runs the actor.
    "modules/agent.py": AGENT_MODULE.format(switch="pass"),
    "modules/main_bug.py": MAIN.format(before="pass"),
    # Look-alike: eval mode before the test episodes.
    "modules/main_ok.py": MAIN.format(before="agent.eval()"),
})

EXPECTED = {
    "method_in_train_mode.py": [("TRN101", 37)],
    "method_with_autograd.py": [("TRN102", 37)],
    "method_done_right.py": [],
    "method_switches.py": [],
    "modules/agent.py": [],
    "modules/main_bug.py": [("TRN101", 17)],
    "modules/main_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("model_methods"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_method_as_a_forward_pass(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_object(found):
    finding, = found["method_in_train_mode.py"]
    assert finding["message"].startswith("`agent` is evaluated") and "test data" in finding["message"]


def test_method_of_another_module_that_switches_the_mode_itself(tmp_path):
    # Look-alike (a run of its own): act() puts the agent in eval mode before running it.
    found = run_cases(tmp_path, {"agent.py": AGENT_MODULE.format(switch="self.eval()"),
                                 "main.py": MAIN.format(before="pass")}, "TRN101,TRN102")
    assert found["main.py"] == [] and found["agent.py"] == []
