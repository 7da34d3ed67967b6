"""TRN401 on a batch cut into micro-batches (session 15), through the real command.

`for xs, ys in zip(x.chunk(k), y.chunk(k)): loss(xs, ys).backward()` and one step after the
inner loop add up k micro-batch means: the step applies k times the full batch's gradient,
as an undivided `range(k)` window does. Look-alikes: each piece's loss weighed by its share
of the batch, or divided by the number of pieces; pieces stepped one by one.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MICRO = """
import torch
import torch.nn.functional as F


def train(model, loader, optimizer, k=4, mb=8):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        for {pieces}:
            loss = {loss}
            loss.backward()
            {inner_step}
        {outer_step}
"""

SCRIPT = """
import torch
import torch.nn as nn

model = nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(5)]
k = 4
for epoch in range(3):
    opt.zero_grad()
    for x, y in loader:
        for xs, ys in zip(x.chunk(k), y.chunk(k)):
            loss = nn.functional.cross_entropy(model(xs), ys){divided}
            loss.backward()
        opt.step()
        opt.zero_grad()
"""

CASES = {
    "script_chunked_bad.py": SCRIPT.format(divided=""),
    "script_chunked_divided_ok.py": SCRIPT.format(divided=" / k"),
    "chunked_bad.py": MICRO.format(
        pieces="xs, ys in zip(x.chunk(k), y.chunk(k))", loss="F.cross_entropy(model(xs), ys)",
        inner_step="", outer_step="optimizer.step()"),
    "split_enumerated_bad.py": MICRO.format(
        pieces="j, (xs, ys) in enumerate(zip(torch.split(x, mb), torch.split(y, mb)))",
        loss="F.cross_entropy(model(xs), ys)", inner_step="", outer_step="optimizer.step()"),
    "chunked_divided_ok.py": MICRO.format(
        pieces="xs, ys in zip(x.chunk(k), y.chunk(k))", loss="F.cross_entropy(model(xs), ys) / k",
        inner_step="", outer_step="optimizer.step()"),
    "split_weighed_ok.py": MICRO.format(
        pieces="xs, ys in zip(x.split(mb), y.split(mb))",
        loss="F.cross_entropy(model(xs), ys) * xs.shape[0] / x.shape[0]",
        inner_step="", outer_step="optimizer.step()"),
    "chunk_stepped_each_ok.py": MICRO.format(
        pieces="xs, ys in zip(x.chunk(k), y.chunk(k))", loss="F.cross_entropy(model(xs), ys)",
        inner_step="optimizer.step()\n            optimizer.zero_grad()", outer_step="pass"),
}

EXPECTED = {
    "script_chunked_bad.py": [("TRN401", 13)],
    "script_chunked_divided_ok.py": [],
    "chunked_bad.py": [("TRN401", 11)],
    "split_enumerated_bad.py": [("TRN401", 11)],
    "chunked_divided_ok.py": [],
    "split_weighed_ok.py": [],
    "chunk_stepped_each_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("accumulation_micro_batches"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(CASES))
def test_micro_batch_accumulation(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
