"""TRN202 through splits known by behaviour: rows cut off at a bound (`X[:n]` / `X[n:]`).

A split is a cut of the rows into the part that trains and the part held out, whatever the
held-out part is called (`X_ho`, `rest`, `b`). Look-alikes: the fit on the training cut only,
shifted copies of a series (`X[:-1]` inputs, `X[1:]` targets: no rows held out), a cut into
features and labels (columns), and both cuts named as training data.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = """
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

data = np.loadtxt("data.csv", delimiter=",")
X, y = data[:, :-1], data[:, -1]
n = int(0.8 * len(X))
"""

TRAIN_ON = """
model = torch.nn.Linear(X.shape[1], 1)
opt = torch.optim.Adam(model.parameters())
for epoch in range(100):
    opt.zero_grad()
    loss = ((model(torch.tensor({rows}, dtype=torch.float32)).squeeze() - torch.tensor(y[:n])) ** 2).mean()
    loss.backward()
    opt.step()
"""

HOLDOUT_NAME = HEAD + """
X = StandardScaler().fit_transform(X)
X_tr, X_ho = X[:n], X[n:]
""" + TRAIN_ON.format(rows="X_tr")

UNNAMED_TAIL = HEAD + """
X = StandardScaler().fit_transform(X)
first = X[:n]
rest = X[n:]
""" + TRAIN_ON.format(rows="first")

FIT_ON_HEAD = HEAD + """
X_tr, X_ho = X[:n], X[n:]
scaler = StandardScaler().fit(X_tr)
X_tr, X_ho = scaler.transform(X_tr), scaler.transform(X_ho)
""" + TRAIN_ON.format(rows="X_tr")

SHIFTED = HEAD + """
X = StandardScaler().fit_transform(X)
inputs, targets = X[:-1], X[1:]
""" + TRAIN_ON.format(rows="inputs")

BOTH_TRAINING = HEAD + """
X = StandardScaler().fit_transform(X)
X_train_a, X_train_b = X[:n], X[n:]
""" + TRAIN_ON.format(rows="X_train_a")

CASES = {
    "holdout_name.py": HOLDOUT_NAME,
    "unnamed_tail.py": UNNAMED_TAIL,
    "fit_on_head.py": FIT_ON_HEAD,
    "shifted.py": SHIFTED,
    "both_training.py": BOTH_TRAINING,
}

EXPECTED = {
    "holdout_name.py": [("TRN202", 9)],
    "unnamed_tail.py": [("TRN202", 9)],
    "fit_on_head.py": [],
    "shifted.py": [],
    "both_training.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("row_cuts"), CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(CASES))
def test_row_cut_split(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
