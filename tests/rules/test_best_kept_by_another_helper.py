"""TRN204 when the running best is kept by a helper other than the evaluation: the test score
and the running best go into a call that hands back the new best (`best_loss =
save_model(model, test_metrics, best_loss)`, a checkpoint helper of another module), so that
call chooses the saved epoch on the test split (error). Look-alikes: the same helper fed the
validation score; the test score only handed to a logger with a step counter (info: reported,
nothing chosen). Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

UTIL = """
import torch


def save_model(model, metrics, best_loss):
    if metrics["loss"] < best_loss:
        torch.save(model.state_dict(), "best.pt")
        return metrics["loss"]
    return best_loss


def log_metrics(metrics, step):
    print(step, metrics)
"""

MAIN = """
import torch
import util


def evaluate(model, loader):
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += torch.nn.functional.cross_entropy(model(x), y).item()
    return {{"loss": total}}


def run(model, optimizer, train_loader, val_loader, test_loader, epochs):
    best_loss = 1e9
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        metrics = evaluate(model, {held_out})
        {use}
"""

CASES = {
    "bug/util.py": UTIL,
    "bug/main.py": MAIN.format(held_out="test_loader", use="best_loss = util.save_model(model, metrics, best_loss)"),
    "val/util.py": UTIL,
    "val/main.py": MAIN.format(held_out="val_loader", use="best_loss = util.save_model(model, metrics, best_loss)"),
    "logged/util.py": UTIL,
    "logged/main.py": MAIN.format(held_out="test_loader", use="util.log_metrics(metrics, epoch)"),
}

EVAL_LINE = MAIN.lstrip("\n").splitlines().index("        metrics = evaluate(model, {held_out})") + 1


def test_best_kept_by_a_checkpoint_helper(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["bug/main.py"]) == [("TRN204", EVAL_LINE)]
    assert [f["severity"] for f in found["bug/main.py"]] == ["error"]


def test_validation_score_or_only_logged(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert found["val/main.py"] == []
    assert [(f["line"], f["severity"]) for f in found["logged/main.py"]] == [(EVAL_LINE, "info")]
