"""TRN204: what runs after the epoch loop is only what can follow it. A script that trains
in `if mode == 'train':` and only demonstrates a saved model in the `else:` branch never runs
that branch after training: a `torch.max(...)` of the demonstration's output there chooses no
epoch, even when the evaluation helper hands the model back with the test loss
(`model, test_loss = test(model, test_loader)`). The bug it must still catch: the same loop
followed, in the training branch or after the whole `if`, by a reduction that picks the best
kept test score. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import run_cases

HEAD = """
import sys

import numpy as np
import torch


def train(model, optimizer, loader):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model


def test(model, loader):
    model.eval()
    total = 0.0
    for x, y in loader:
        total += torch.nn.functional.cross_entropy(model(x), y).item()
    return model, total / len(loader)


model = torch.nn.Linear(4, 3)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_loader = torch.utils.data.DataLoader(range(8))
test_loader = torch.utils.data.DataLoader(range(8))
test_losses = []
if sys.argv[1] == "train":
    for epoch in range(10):
        model = train(model, optimizer, train_loader)
        with torch.no_grad():
            model, test_loss = test(model, test_loader)
        test_losses.append(test_loss)
        torch.save(model.state_dict(), f"epoch{epoch}.pth")
"""

DEMO = """
else:
    model.load_state_dict(torch.load(sys.argv[2]))
    with torch.no_grad():
        model.eval()
        output = model(torch.randn(1, 4))
    print(f"class {torch.argmax(output)} ({torch.max(output * 100):.0f}%)")
"""

CASES = {
    # Look-alike: the reduction is in the demonstration branch, which never follows training.
    "demo_branch.py": HEAD + DEMO,
    # Look-alike: an `elif` demonstration branch, the same.
    "demo_elif.py": HEAD + DEMO.replace("else:", 'elif sys.argv[1] == "demo":'),
    # Bug: after the loop, in the training branch, the epoch with the lowest test loss is kept.
    "same_branch.py": HEAD + """
    best = np.argmin(test_losses)
    print(best, test_losses[best])
""" + DEMO,
    # Bug: after the whole if/else, the best test loss over the epochs is the reported figure.
    "after_if.py": HEAD + DEMO + """
print(np.argmin(test_losses))
""",
}

EVALUATION_LINE = 33  # `model, test_loss = test(model, test_loader)` in the epoch loop


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("choice_branches"), CASES, "TRN204")


@pytest.mark.parametrize("name", ["demo_branch.py", "demo_elif.py"])
def test_an_exclusive_branch_after_the_loop_decides_nothing(found, name):
    assert [(f["line"], f["severity"]) for f in found[name]] == [(EVALUATION_LINE, "info")]


@pytest.mark.parametrize("name", ["same_branch.py", "after_if.py"])
def test_a_choice_on_kept_test_scores_after_the_loop_is_still_an_error(found, name):
    assert [(f["line"], f["severity"]) for f in found[name]] == [(EVALUATION_LINE, "error")]
