"""TRN401-TRN403 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    "modulo_unscaled.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "divided_copy_unscaled.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        reported = loss / k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "counter_unscaled.py": """
import torch

def train(model, stream, opt, crit, micro_batches=8):
    seen = 0
    while True:
        x, y = next(stream)
        crit(model(x), y).backward()
        seen += 1
        if seen == micro_batches:
            opt.step()
            opt.zero_grad()
            seen = 0
""",
    "scaled_forms_ok.py": """
import torch

class Loop:
    def run(self, model, loader, optimizer, scaler, criterion):
        for i, (x, y) in enumerate(loader):
            loss = criterion(model(x), y) / self.accum
            scaler.scale(loss).backward()
            if (i + 1) % self.accum == 0:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()

def other(model, loader, optimizer, criterion, k):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss /= k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "inner_range_unscaled.py": """
import torch

def train(model, get_batch, optimizer, steps, accum):
    for it in range(steps):
        for micro in range(accum):
            x, y = get_batch()
            loss = model(x, y).loss
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
""",
    "accelerate_ok.py": """
import torch

def train(model, loader, optimizer, accelerator):
    for x, y in loader:
        with accelerator.accumulate(model):
            loss = model(x, y).loss
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
""",
    "zero_grad_every_micro.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
        optimizer.zero_grad()
""",
    "zero_grad_window_start_ok.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        if i % k == 0:
            optimizer.zero_grad()
        loss = criterion(model(x), y) / k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
""",
    "no_zero_grad.py": """
import torch

def train(model, loader, optimizer, criterion):
    optimizer.zero_grad()
    for x, y in loader:
        criterion(model(x), y).backward()
        optimizer.step()
""",
    "zero_grad_helper_ok.py": """
import torch

def clear(optimizer):
    optimizer.zero_grad(set_to_none=True)

def train(model, loader, optimizer, criterion):
    for x, y in loader:
        criterion(model(x), y).backward()
        optimizer.step()
        clear(optimizer)

def train2(model, loader, optimizer, criterion):
    for x, y in loader:
        for p in model.parameters():
            p.grad = None
        criterion(model(x), y).backward()
        optimizer.step()
""",
}

EXPECTED = {
    "modulo_unscaled.py": [("TRN401", 6)],
    "divided_copy_unscaled.py": [("TRN401", 7)],
    "counter_unscaled.py": [("TRN401", 7)],
    "scaled_forms_ok.py": [],
    "inner_range_unscaled.py": [("TRN401", 8)],
    "accelerate_ok.py": [],
    "zero_grad_every_micro.py": [("TRN402", 9)],
    "zero_grad_window_start_ok.py": [],
    "no_zero_grad.py": [("TRN403", 7)],
    "zero_grad_helper_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("accumulation"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
