"""TRN204 when the per-epoch test scores are returned by the training function and its caller
picks the best of them (`losses, accs = train(...)`, `print(np.max(accs))`): the reported
figure is the best epoch chosen on the test split (error). Look-alikes: the caller reports the
last epoch's score, or picks the best of the other returned value (the training losses): only
reported (info). Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import run_cases

SOURCE = """
import numpy as np
import torch


def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


def train(model, optimizer, train_loader, test_loader):
    test_accs = []
    losses = []
    for epoch in range(100):
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        acc = evaluate(model, test_loader)
        test_accs.append(acc)
    return losses, test_accs


def main(model, optimizer, train_loader, test_loader):
    losses, accs = train(model, optimizer, train_loader, test_loader)
    print("result", {report})
"""

CASES = {
    "best.py": SOURCE.format(report="np.max(accs)"),
    "last.py": SOURCE.format(report="accs[-1]"),
    "lowest_loss.py": SOURCE.format(report="min(losses)"),
}

EVAL_LINE = SOURCE.lstrip("\n").splitlines().index("        acc = evaluate(model, test_loader)") + 1


def test_caller_picks_the_best_returned_test_score(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert [(f["line"], f["severity"]) for f in found["best.py"]] == [(EVAL_LINE, "error")]


def test_caller_reports_the_last_score_or_picks_on_another_value(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    for name in ("last.py", "lowest_loss.py"):
        assert [(f["line"], f["severity"]) for f in found[name]] == [(EVAL_LINE, "info")], name
