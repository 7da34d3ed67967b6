"""TRN103 on a scikit-learn-style wrapper class (seen in a survival-analysis training
library): `fit()` steps the optimizer without ever calling `self.net.train()`, and
`predict()` switches `self.net` to eval mode and never back (there, a typo restored eval
instead of train). A `fit` after a `predict` trains with dropout off.

Look-alikes: `predict()` that restores training mode (also from a `finally:` block after a
`return` in the `try`), a `fit()` that builds a new network each time, and a class whose
second network (a frozen teacher) is the one kept in eval, and a class whose `export()`
switches the net to eval mode to trace it (it never runs the net: not a prediction).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

WRAPPER = """
import torch
import torch.nn.functional as F


class Model:
    def __init__(self, net, lr=0.01):
        self.net = net
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)

    def fit(self, loader, epochs=1):
        for _ in range(epochs):
            for x, y in loader:
                self.optimizer.zero_grad()
                loss = F.mse_loss(self.net(x), y)
                loss.backward()
                self.optimizer.step()
        return self

    def predict(self, x, eval_=True):
        if eval_:
            self.net.eval()
        with torch.no_grad():
            out = self.net(x)
        if eval_:
            self.net.eval()
        return out
"""

RESTORED = WRAPPER.replace("        if eval_:\n            self.net.eval()\n        return out",
                           "        if eval_:\n            self.net.train()\n        return out")

REBUILT = WRAPPER.replace(
    "    def fit(self, loader, epochs=1):\n",
    "    def fit(self, loader, epochs=1):\n        self.net = make_net()\n"
    "        self.optimizer = torch.optim.Adam(self.net.parameters())\n").replace(
    "class Model:", "from nets import make_net\n\n\nclass Model:")

TEACHER = WRAPPER.replace(
    "        self.net = net\n",
    "        self.net = net\n        self.teacher = load_teacher()\n        self.teacher.eval()\n").replace(
    "class Model:", "from nets import load_teacher\n\n\nclass Model:")

FINALLY = WRAPPER.split("    def predict(")[0] + """    def predict(self, x):
        self.net.eval()
        try:
            with torch.no_grad():
                return self.net(x)
        finally:
            self.net.train()
"""

EXPORT = WRAPPER.split("    def predict(")[0] + """    def export(self, path):
        self.net.eval()
        torch.jit.save(torch.jit.script(self.net), path)
"""

CASES = {"export.py": EXPORT, "wrapper.py": WRAPPER, "restored.py": RESTORED, "rebuilt.py": REBUILT, "teacher.py": TEACHER,
         "restored_in_finally.py": FINALLY}

EXPECTED = {"export.py": [], "wrapper.py": [("TRN103", 16)], "restored.py": [], "rebuilt.py": [], "teacher.py": [],
            "restored_in_finally.py": []}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_sibling_eval"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_the_message_names_the_method(found):
    [finding] = found["wrapper.py"]
    assert "`predict()`" in finding["message"]
