"""TRN204 in full-batch training: the test rows picked from the model's output each epoch
(`pred[data.test_mask]`, `output[idx_test]`) and a decision taken on that score; and the
look-alikes (selection on the validation rows with the test score taken at the chosen epoch,
a test accuracy only printed). Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    "mask_best_test_saved.py": """
import torch
import torch.nn.functional as F

def run(model, data, optimizer):
    best_test = 0
    for epoch in range(200):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.nll_loss(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        pred = model(data.x, data.edge_index).argmax(dim=1)
        test_acc = (pred[data.test_mask] == data.y[data.test_mask]).float().mean().item()
        if test_acc > best_test:
            best_test = test_acc
            torch.save(model.state_dict(), "best.pt")
""",
    "idx_test_early_stopping.py": """
import torch.nn.functional as F

def train(model, optimizer, features, adj, labels, idx_train, idx_test, patience=20):
    best, bad = 1e9, 0
    for epoch in range(1000):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss = F.nll_loss(output[idx_train], labels[idx_train])
        loss.backward()
        optimizer.step()
        loss_test = F.nll_loss(output[idx_test], labels[idx_test]).item()
        if loss_test < best:
            best, bad = loss_test, 0
        else:
            bad += 1
        if bad == patience:
            break
""",
    "helper_returns_test_score.py": """
import torch
import torch.nn.functional as F

def train(model, optimizer, features, adj, labels, idx_train, idx_val, idx_test):
    model.train()
    optimizer.zero_grad()
    output = model(features, adj)
    F.nll_loss(output[idx_train], labels[idx_train]).backward()
    optimizer.step()
    model.eval()
    output = model(features, adj)
    acc_val = (output[idx_val].argmax(1) == labels[idx_val]).float().mean().item()
    acc_test = (output[idx_test].argmax(1) == labels[idx_test]).float().mean().item()
    return acc_val, acc_test

def main(model, optimizer, features, adj, labels, idx_train, idx_val, idx_test):
    best = 0
    for epoch in range(200):
        acc_val, acc_test = train(model, optimizer, features, adj, labels, idx_train, idx_val, idx_test)
        if acc_test > best:
            best = acc_test
            torch.save(model.state_dict(), "best.pt")
""",
    # -- look-alikes.
    "helper_returns_test_score_val_decides.py": """
import torch
import torch.nn.functional as F

def train(model, optimizer, features, adj, labels, idx_train, idx_val, idx_test):
    model.train()
    optimizer.zero_grad()
    output = model(features, adj)
    F.nll_loss(output[idx_train], labels[idx_train]).backward()
    optimizer.step()
    model.eval()
    output = model(features, adj)
    acc_val = (output[idx_val].argmax(1) == labels[idx_val]).float().mean().item()
    acc_test = (output[idx_test].argmax(1) == labels[idx_test]).float().mean().item()
    return acc_val, acc_test

def main(model, optimizer, features, adj, labels, idx_train, idx_val, idx_test):
    best_val, test_at_best = 0, 0
    for epoch in range(200):
        acc_val, acc_test = train(model, optimizer, features, adj, labels, idx_train, idx_val, idx_test)
        if acc_val > best_val:
            best_val, test_at_best = acc_val, acc_test
    return test_at_best
""",
    "mask_val_selects.py": """
import torch
import torch.nn.functional as F

def run(model, data, optimizer):
    best_val = test_at_best = 0
    for epoch in range(200):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.nll_loss(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        pred = out.argmax(dim=1)
        val_acc = (pred[data.val_mask] == data.y[data.val_mask]).float().mean().item()
        if val_acc > best_val:
            best_val = val_acc
            test_at_best = (pred[data.test_mask] == data.y[data.test_mask]).float().mean().item()
    return test_at_best
""",
    "mask_test_printed.py": """
import torch.nn.functional as F

def run(model, data, optimizer):
    for epoch in range(200):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.nll_loss(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        test_acc = (out.argmax(1)[data.test_mask] == data.y[data.test_mask]).float().mean()
        print(epoch, float(test_acc))
""",
}

EXPECTED = {
    "mask_best_test_saved.py": [("TRN204", 14)],
    "idx_test_early_stopping.py": [("TRN204", 12)],
    "helper_returns_test_score.py": [("TRN204", 19)],
    "helper_returns_test_score_val_decides.py": [],
    "mask_val_selects.py": [],
    "mask_test_printed.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("masks"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_test_rows_of_the_output(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_index_and_decision(found):
    finding = found["mask_best_test_saved.py"][0]
    assert finding["severity"] == "error"
    assert "`data.test_mask`" in finding["message"] and "test_acc > best_test" in finding["message"]
