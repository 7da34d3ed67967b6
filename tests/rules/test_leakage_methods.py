"""TRN204 in a trainer class: a method that scores the object's own test loader
(`self.test_loader`) and keeps the best checkpoint, called from the epoch loop of another
method; and the look-alikes (the object's validation loader, the test method run once after
the loop). Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

RUNNER = """
import torch

class Runner:
    def __init__(self, model, opt, train_loader, val_loader, test_loader):
        self.model, self.opt = model, opt
        self.train_loader, self.val_loader, self.test_loader = train_loader, val_loader, test_loader
        self.best_acc = 0.0

    def train_epoch(self):
        self.model.train()
        for x, y in self.train_loader:
            self.opt.zero_grad()
            torch.nn.functional.cross_entropy(self.model(x), y).backward()
            self.opt.step()

    def score(self):
        self.model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in self.{loader}:
                correct += (self.model(x).argmax(1) == y).sum().item()
        acc = correct / len(self.{loader}.dataset)
        if acc > self.best_acc:
            self.best_acc = acc
            torch.save(self.model.state_dict(), "best.pt")
        return acc
"""

CASES = {
    "method_scores_own_test_loader.py": RUNNER.replace("{loader}", "test_loader") + """
    def run(self, epochs):
        for epoch in range(epochs):
            self.train_epoch()
            self.score()
""",
    "method_scores_own_val_loader.py": RUNNER.replace("{loader}", "val_loader") + """
    def run(self, epochs):
        for epoch in range(epochs):
            self.train_epoch()
            self.score()
""",
    "method_scores_test_after_loop.py": RUNNER.replace("{loader}", "test_loader") + """
    def run(self, epochs):
        for epoch in range(epochs):
            self.train_epoch()
        return self.score()
""",
}

LINE = RUNNER.count("\n") + 4
EXPECTED = {
    "method_scores_own_test_loader.py": [("TRN204", LINE)],
    "method_scores_own_val_loader.py": [],
    "method_scores_test_after_loop.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("methods"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_method_reads_own_loader(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_decision_inside_the_method_is_named(found):
    finding = found["method_scores_own_test_loader.py"][0]
    assert finding["severity"] == "error" and "acc > self.best_acc" in finding["message"]
