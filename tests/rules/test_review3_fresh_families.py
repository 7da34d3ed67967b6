"""Families behind the false alarms of a precision review on fresh repositories (session 13,
self-supervised linear probes), each with the bug the rule must keep and the correct
look-alike it must leave alone. Through the real command.

- TRN102: one train/eval function that picks its grad context per call,
  `with (torch.enable_grad() if is_train else torch.no_grad()):`, runs its evaluation call
  without autograd; the same function whose context is `enable_grad()` on both sides does not;
- TRN103: an epoch that sets the mode before training in every branch, `train()` to fine-tune
  or a deliberate `eval()` for a frozen-backbone linear probe (any other setting asserts), is
  not left in eval mode by the previous epoch's evaluation; an epoch whose only branch that
  sets the mode is the fine-tuning one, falling through otherwise, still is.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_TRAIN_VAL = """
import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()


def train_val(model, loader, train_optimizer):
    is_train = train_optimizer is not None
    model.train() if is_train else model.eval()
    total = 0.0
    with ({context}):
        for data, target in loader:
            out = model(data)
            loss = criterion(out, target)
            if is_train:
                train_optimizer.zero_grad()
                loss.backward()
                train_optimizer.step()
            total += loss.item()
    return total


for epoch in range(3):
    train_val(net, train_loader, optimizer)
    print(train_val(net, test_loader, None))
"""

_PROBE_EPOCHS = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()


def run(weights):
    for epoch in range(3):
        if weights == "finetune":
            model.train()
{other_branch}
        for i, (x, y) in enumerate(train_loader):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
{inner_tail}
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                print((model(x).argmax(1) == y).float().mean().item())
"""

_EVERY_BRANCH = ('        elif weights == "freeze":\n            model.eval()\n'
                 '        else:\n            assert False')

CASES = {
    # Look-alike: the evaluation call (no optimizer) runs under no_grad.
    "conditional_grad_context_ok.py": _TRAIN_VAL.format(
        context="torch.enable_grad() if is_train else torch.no_grad()"),
    # Bug: both sides keep autograd on, so the evaluation call builds graphs.
    "conditional_grad_context_bad.py": _TRAIN_VAL.format(
        context="torch.enable_grad() if is_train else torch.enable_grad()"),
    # Look-alike: the frozen probe trains in eval mode on purpose; nothing else runs.
    "probe_mode_every_branch_ok.py": _PROBE_EPOCHS.format(other_branch=_EVERY_BRANCH, inner_tail=""),
    # Look-alike: the only setting that goes on trains in train mode; the rest assert.
    "probe_mode_assert_ok.py": _PROBE_EPOCHS.format(
        other_branch="        else:\n            assert False", inner_tail=""),
    # Bug: any setting but "finetune" trains in the eval mode the last evaluation left.
    "probe_mode_fall_through_bad.py": _PROBE_EPOCHS.format(other_branch="", inner_tail=""),
    # Bug: a mid-epoch evaluation switches to eval mode and the next steps train in it.
    "probe_mode_mid_epoch_eval_bad.py": _PROBE_EPOCHS.format(
        other_branch=_EVERY_BRANCH,
        inner_tail="            if i % 100 == 0:\n                model.eval()\n"
                   "                print(model(x).sum().item())"),
}

EXPECTED = {
    "conditional_grad_context_ok.py": [],
    "conditional_grad_context_bad.py": [("TRN102", 15)],
    "probe_mode_every_branch_ok.py": [],
    "probe_mode_assert_ok.py": [],
    "probe_mode_fall_through_bad.py": [("TRN103", 18)],
    "probe_mode_mid_epoch_eval_bad.py": [("TRN102", 24), ("TRN103", 21)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review3"), CASES, "TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fresh_probe_families(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
