"""TRN403 on gradient descent by hand (no optimizer): the update reads `.grad`, so the loop
must clear it. Bugs and correct look-alikes through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    "module_level_never_cleared.py": """
import torch

x = torch.randn(100, 3)
y = x.sum(1)
w = torch.zeros(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(100):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.01 * w.grad
        b -= 0.01 * b.grad
""",
    "module_level_cleared_ok.py": """
import torch

x = torch.randn(100, 3)
y = x.sum(1)
w = torch.zeros(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(100):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.01 * w.grad
        b -= 0.01 * b.grad
        w.grad.zero_()
        b.grad.data.zero_()
""",
    "one_of_two_cleared.py": """
import torch

def fit(x, y, w, b, lr):
    for epoch in range(100):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        w.data = w.data - lr * w.grad.data
        b.data = b.data - lr * b.grad.data
        w.grad.data.zero_()
""",
    "parameter_loop_never_cleared.py": """
import torch

def train(model, loader, criterion, lr=0.1):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data.sub_(lr * p.grad.data)
""",
    "parameter_loop_model_zero_grad_ok.py": """
import torch

def train(model, loader, criterion, lr=0.1):
    for x, y in loader:
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data.add_(-lr, p.grad.data)
""",
    "parameter_loop_grad_none_ok.py": """
import torch

def train(model, loader, criterion, lr=0.1):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad = None
""",
    "fresh_tensor_each_step_ok.py": """
import torch

def attack(model, x, y, criterion, eps=0.01, steps=10):
    adv = x.clone()
    for _ in range(steps):
        adv = adv.detach().requires_grad_()
        loss = criterion(model(adv), y)
        loss.backward()
        adv.data.add_(eps * adv.grad.sign())
    return adv
""",
    "helper_clears_ok.py": """
import torch

def clear(params):
    for p in params:
        p.grad.zero_()

def fit(x, y, w, b, lr):
    for epoch in range(100):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        clear([w, b])
""",
    "gradient_written_not_parameter_ok.py": """
import torch

def meta(model, tasks, outer):
    for task in tasks:
        outer.zero_grad()
        loss = model(task).mean()
        loss.backward()
        for p_global, p_local in zip(outer.parameters(), model.parameters()):
            p_global.grad += p_local.grad
""",
}

EXPECTED = {
    "module_level_never_cleared.py": [("TRN403", 11), ("TRN403", 12)],
    "module_level_cleared_ok.py": [],
    "one_of_two_cleared.py": [("TRN403", 8)],
    "parameter_loop_never_cleared.py": [("TRN403", 8)],
    "parameter_loop_model_zero_grad_ok.py": [],
    "parameter_loop_grad_none_ok.py": [],
    "fresh_tensor_each_step_ok.py": [],
    "helper_clears_ok.py": [],
    "gradient_written_not_parameter_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("manual_updates"), CASES, "TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_tensor_and_the_clear(found):
    message = found["one_of_two_cleared.py"][0]["message"]
    assert "`b`" in message and "b.grad.zero_()" in message
