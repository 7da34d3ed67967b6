"""TRN103 in a training function handed its optimizer as a parameter, in a file whose own
optimizers are built for other models (session 18, found by dropping `net.train()` from a
real training function), through the real command.

`def train(net, optimizer, ...)` steps the optimizer its caller built; the file's only
optimizers are made by a model factory (`get_model()` builds `model` and its optimizer), so
reading which model they train said `net` is trained by none: the rule stayed silent while
`val(net, ...)` left `net` in eval mode for the next epoch.
Look-alikes: the epoch loop switching `net.train()` back; a frozen second model handed in
beside the trained one (which of the two the optimizer trains cannot be read here).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

SOURCE = """
import torch
import torch.nn as nn
import torch.optim as optim


def get_model(name, n_in, n_out):
    model = nn.Sequential(nn.Linear(n_in, 16), nn.Dropout(0.5), nn.Linear(16, n_out))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    return model, optimizer


def train(net, {extra}optimizer, criterion, data_loader, epochs, val_loader=None):
    for e in range(epochs):
        {switch}
        for data, target in data_loader:
            optimizer.zero_grad()
            loss = criterion(net(data){teacher}, target)
            loss.backward()
            optimizer.step()
        if val_loader is not None:
            val(net, val_loader)


def val(net, data_loader):
    net.eval()
    correct = 0
    with torch.no_grad():
        for data, target in data_loader:
            correct += (net(data).argmax(1) == target).sum().item()
    return correct
"""

CASES = {
    "handed_bad.py": SOURCE.format(extra="", switch="pass", teacher=""),
    "handed_switched_ok.py": SOURCE.format(extra="", switch="net.train()", teacher=""),
    "handed_with_teacher_ok.py": SOURCE.format(extra="teacher, ", switch="pass", teacher=" + teacher(data)"),
}

EXPECTED = {
    "handed_bad.py": [("TRN103", 19)],
    "handed_switched_ok.py": [],
    "handed_with_teacher_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_handed_optimizer_param"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(CASES))
def test_handed_optimizer_parameter(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
