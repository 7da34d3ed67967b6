"""Fixes attached to the flow-based rules (TRN101, TRN102, TRN203, TRN301, TRN401) as round trips."""

from __future__ import annotations

from tests.conftest import check_json, write
from tests.fix._roundtrip import round_trip

SAFE_CASES = {
    "eval_loader_shuffle": ("TRN203", """
from torch.utils.data import DataLoader

train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
val_loader = DataLoader(val_ds, batch_size=64, shuffle=True)  # validation
test_loader = DataLoader(test_ds, 64, True)
""", """
from torch.utils.data import DataLoader

train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
val_loader = DataLoader(val_ds, batch_size=64, shuffle=False)  # validation
test_loader = DataLoader(test_ds, 64, False)
"""),
    "eval_loop_no_grad": ("TRN102", """
import torch


def validate(model, val_loader):
    model.eval()
    correct = 0
    # count the hits
    for x, y in val_loader:
        out = model(x)  # logits
        correct += (out.argmax(1) == y).sum().item()
    return correct
""", """
import torch


def validate(model, val_loader):
    model.eval()
    correct = 0
    # count the hits
    with torch.no_grad():
        for x, y in val_loader:
            out = model(x)  # logits
            correct += (out.argmax(1) == y).sum().item()
    return correct
"""),
}

UNSAFE_CASES = {
    "eval_mode_restored": ("TRN101", """
import torch


def main(model, train_loader, val_loader, opt):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        with torch.no_grad():
            for x, y in val_loader:
                print(model(x).argmax(1))
""", """
import torch


def main(model, train_loader, val_loader, opt):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                print(model(x).argmax(1))
        model.train()
"""),
    "softmax_removed": ("TRN301", """
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()
loss = criterion(F.softmax(model(x), dim=1), y)
""", """
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()
loss = criterion(model(x), y)
"""),
    "softmax_variable": ("TRN301", """
import torch.nn as nn


def step(model, x, y):
    criterion = nn.CrossEntropyLoss()
    logits = model(x)
    probs = logits.softmax(dim=-1)
    return criterion(probs, y), probs
""", """
import torch.nn as nn


def step(model, x, y):
    criterion = nn.CrossEntropyLoss()
    logits = model(x)
    probs = logits.softmax(dim=-1)
    return criterion(logits, y), probs
"""),
    "loss_divided": ("TRN401", """
import torch


def train(model, loader, criterion, accum_steps=4):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
""", """
import torch


def train(model, loader, criterion, accum_steps=4):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        (loss / accum_steps).backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
"""),
}


def test_safe_flow_fixes_round_trip(tmp_path):
    round_trip(tmp_path, SAFE_CASES)


def test_unsafe_flow_fixes_round_trip(tmp_path):
    round_trip(tmp_path, UNSAFE_CASES, unsafe=True)


def test_no_fix_offered_where_the_shape_is_not_simple(tmp_path):
    write(tmp_path, "shared.py", """
from torch.utils.data import DataLoader

opts = {"shuffle": True, "batch_size": 8}
val_loader = DataLoader(val_ds, **opts)
""")
    report, _ = check_json("--select", "TRN203", ".", cwd=tmp_path)
    (finding,) = report["findings"]
    assert finding["fix"] is None  # shuffle comes from a dict other loaders may share


def test_eval_mode_fix_is_unsafe_and_no_grad_fix_safe(tmp_path):
    write(tmp_path, "a.py", UNSAFE_CASES["eval_mode_restored"][1])
    write(tmp_path, "b.py", SAFE_CASES["eval_loop_no_grad"][1])
    report, _ = check_json("--select", "TRN101,TRN102", ".", cwd=tmp_path)
    fixes = {f["code"]: f["fix"]["applicability"] for f in report["findings"]}
    assert fixes == {"TRN101": "unsafe", "TRN102": "safe"}
