"""TRN101 through an object of another module's class that holds the caller's model:
AlphaZero self-play builds a fresh batch-norm network, loads weights, hands it to
`MCTS(network)` (defined in `mcts.py`, whose `__init__` keeps `self.network = network`) and
calls `mcts.search(...)`; the search evaluates `self.network` for its policy and value in
training mode. Within one file this was known (held objects); across modules the method's
entry did not know the attribute's mode.

The repository also holds other copies of `network.py` and `mcts.py` in other folders
(an older version of the project): the self-play's `network.py` is the one beside it.

Look-alikes: the same self-play with `network.eval()` before the search object is built,
and a search class that switches its network to eval itself.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

NETWORK = """
import torch.nn as nn


class PVNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.policy = nn.Linear(8 * 64, 64)
        self.value = nn.Linear(8 * 64, 1)

    def forward(self, x):
        h = self.bn(self.conv(x)).flatten(1)
        return self.policy(h).softmax(1), self.value(h).tanh()
"""

MCTS = """
import numpy as np
import torch


class MCTS:
    def __init__(self, network, c_puct=1.0):
        self.network = network
        self.c_puct = c_puct
        self.P = {}

    def search(self, state, num_simulations):{switch}
        for _ in range(num_simulations):
            self.expand(state)
        return np.ones(64) / 64

    def expand(self, state):
        policy, value = self.network(state)
        policy, value = policy.detach().numpy()[0], value.detach().numpy()[0]
        self.P[str(state)] = policy
        return value
"""

SELFPLAY = """
import torch
from network import PVNet
from mcts import MCTS


def selfplay(weights, board, num_simulations):
    network = PVNet()
    network.load_state_dict(weights){switch}
    mcts = MCTS(network, c_puct=1.5)
    record = []
    for _ in range(60):
        record.append(mcts.search(board, num_simulations))
    return record
"""

CASES = {}
for case, search_switch, caller_switch in (("bug", "", ""),
                                           ("caller_eval", "", "\n    network.eval()"),
                                           ("search_eval", "\n        self.network.eval()", "")):
    CASES[f"{case}/network.py"] = NETWORK
    CASES[f"{case}/mcts.py"] = MCTS.replace("{switch}", search_switch)
    CASES[f"{case}/selfplay.py"] = SELFPLAY.replace("{switch}", caller_switch)

OTHER_NETWORK = """
import torch.nn as nn


class PolicyValueNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 65)

    def forward(self, x):
        return self.fc(x)
"""

OTHER_MCTS = """
import torch


class MCTS:
    def __init__(self, network):
        self.network = network

    def evaluate(self, board):
        return self.network.predict(board)
"""

for folder in ("aa_old", "zz_old"):
    CASES[f"{folder}/network.py"] = OTHER_NETWORK
    CASES[f"{folder}/mcts.py"] = OTHER_MCTS

EXPECTED = {
    "bug/mcts.py": [("TRN101", 17)],
    "bug/selfplay.py": [],
    "caller_eval/mcts.py": [],
    "caller_eval/selfplay.py": [],
    "search_eval/mcts.py": [],
    "search_eval/selfplay.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_held_across_modules"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
