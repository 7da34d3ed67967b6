"""TRN201-TRN204 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

SK = "import numpy as np\nimport torch\nfrom sklearn.preprocessing import StandardScaler, MinMaxScaler\nfrom sklearn.model_selection import train_test_split\n"

CASES = {
    "fit_on_test.py": SK + """
sc = StandardScaler()
X_tr = sc.fit_transform(X_tr)
X_te = sc.fit_transform(X_te)
""",
    "fit_on_test_ok.py": SK + """
sc = StandardScaler()
X_tr = sc.fit_transform(X_tr)
X_te = sc.transform(X_te)
""",
    # Positions of train_test_split results, with uninformative names.
    "fit_positional.py": SK + """
A, B, a, b = train_test_split(X, y, test_size=0.2)
scaler = MinMaxScaler().fit(B)
""",
    "fit_mixed.py": SK + """
scaler = StandardScaler().fit(np.concatenate([x_train, x_valid]))
""",
    "fit_loop_over_splits.py": SK + """
data = {"train": load("tr"), "test": load("te")}
for part in ("train", "test"):
    data[part] = StandardScaler().fit_transform(data[part])
""",
    "fit_helper.py": SK + """
def normalise(features):
    return StandardScaler().fit_transform(features)

train_feats = normalise(train_feats)
holdout_feats = normalise(holdout_feats)
""",
    "fit_before_split.py": SK + """
features = MinMaxScaler().fit_transform(features)
X_a, X_b, y_a, y_b = train_test_split(features, labels, test_size=0.3)
""",
    "fit_before_split_ok.py": SK + """
X_a, X_b, y_a, y_b = train_test_split(features, labels, test_size=0.3)
scaler = MinMaxScaler().fit(X_a)
X_a, X_b = scaler.transform(X_a), scaler.transform(X_b)
""",
    "loader_shuffled.py": """
from torch.utils.data import DataLoader, RandomSampler
valid_dl = DataLoader(valid_ds, 64, True)
test_dl = DataLoader(test_set, batch_size=64, sampler=RandomSampler(test_set))
train_dl = DataLoader(train_ds, batch_size=64, shuffle=True)
""",
    "loader_helper.py": """
from torch.utils.data import DataLoader

def make_loader(ds, shuffle):
    return DataLoader(ds, batch_size=32, shuffle=shuffle)

train_loader = make_loader(train_ds, True)
dev_loader = make_loader(dev_ds, shuffle=True)
""",
    # DataLoader named only in the import that renames it.
    "loader_alias.py": """
import torch.utils.data as tud
from torch.utils.data import DataLoader as DL
val_dl = DL(val_ds, batch_size=64, shuffle=True)
test_dl = tud.DataLoader(test_ds, shuffle=True)
""",
    "loader_ok.py": """
from torch.utils.data import DataLoader
loaders = {}
for split in ("train", "val"):
    loaders[split] = DataLoader(sets[split], batch_size=32, shuffle=(split == "train"))
eval_loader = DataLoader(eval_ds, batch_size=64)
""",
    "test_in_loop.py": """
import torch

def fit(model, opt, crit, train_loader, test_loader):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x, y in test_loader:
                model(x)
""",
    "test_after_loop_ok.py": """
import torch

@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)

def fit(model, opt, crit, train_loader, val_loader, test_loader):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        best = accuracy(model, val_loader)
    return accuracy(model, test_loader)
""",
}

EXPECTED = {
    "fit_on_test.py": [("TRN201", 8)],
    "fit_on_test_ok.py": [],
    "fit_positional.py": [("TRN201", 7)],
    "fit_mixed.py": [("TRN201", 6)],
    "fit_loop_over_splits.py": [("TRN201", 8)],
    "fit_helper.py": [("TRN201", 10)],
    "fit_before_split.py": [("TRN202", 6)],
    "fit_before_split_ok.py": [],
    "loader_shuffled.py": [("TRN203", 2), ("TRN203", 3)],
    "loader_helper.py": [("TRN203", 7)],
    "loader_alias.py": [("TRN203", 3), ("TRN203", 4)],
    "loader_ok.py": [],
    "test_in_loop.py": [("TRN204", 13)],
    "test_after_loop_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("data"), CASES, "TRN201,TRN202,TRN203,TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_messages_name_the_evidence(found):
    assert "X_te" in found["fit_on_test.py"][0]["message"]
    assert "mixes" in found["fit_mixed.py"][0]["message"]
    assert "holdout_feats" in found["fit_helper.py"][0]["message"]
    assert "shuffle=False" in found["loader_shuffled.py"][0]["message"]
    assert "test_loader" in found["test_in_loop.py"][0]["message"]
