"""Splits known by behaviour: rows cut off at a bound (`X[:n]` / `X[n:]`), TRN202 and TRN101/102.

A split is a cut of the rows into the part that trains and the part held out: with one part
named as training data, the other is held out whatever it is called (`X_ho`, `X[n:]`).
Look-alikes: the fit on the training cut only, shifted copies of a series (`X[:-1]` inputs,
`X[1:]` targets: no rows held out), both cuts named as training data, and two unnamed cuts
(which one trains is not known: a notebook may fit on the tail and test on the head).

The model scored every epoch on the rows cut off the ones it trains on (`x_train = X[:80]`,
`model(X[80:])` read as accuracy) is evaluated: TRN101/TRN102. Look-alike: a second
training stage on the tail (its loss is back-propagated).
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

NET = "nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))"
SCORED_ON_TAIL = f"""
import torch
import torch.nn as nn

X = torch.randn(100, 4)
y = torch.randint(0, 2, (100,))
model = {NET}
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x_train, y_train = X[:80], y[:80]
for epoch in range(10):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x_train), y_train)
    loss.backward()
    opt.step()
    print((model(X[80:]).argmax(1) == y[80:]).float().mean().item())
"""

TRAINED_ON_TAIL = f"""
import torch
import torch.nn as nn

X = torch.randn(100, 4)
y = torch.randint(0, 2, (100,))
model = {NET}
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(X[:80]), y[:80])
    loss.backward()
    opt.step()
for epoch in range(10):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(X[80:]), y[80:])
    loss.backward()
    opt.step()
"""

CASES = {
    "scored_on_tail.py": SCORED_ON_TAIL,
    "trained_on_tail.py": TRAINED_ON_TAIL,
    "holdout_name.py": HOLDOUT_NAME,
    "unnamed_tail.py": UNNAMED_TAIL,
    "fit_on_head.py": FIT_ON_HEAD,
    "shifted.py": SHIFTED,
    "both_training.py": BOTH_TRAINING,
}

EXPECTED = {
    "scored_on_tail.py": [("TRN101", 14), ("TRN102", 14)],
    "trained_on_tail.py": [],
    "holdout_name.py": [("TRN202", 9)],
    "unnamed_tail.py": [],
    "fit_on_head.py": [],
    "shifted.py": [],
    "both_training.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("row_cuts"), CASES, "TRN101,TRN102,TRN201,TRN202,TRN204")


@pytest.mark.parametrize("name", sorted(CASES))
def test_row_cut(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
