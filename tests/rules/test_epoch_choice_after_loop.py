"""TRN204 severity when test scores kept over the epochs are reduced after the loop by a
numpy/torch call that picks one of them: `np.argmax(test_accs)`, `torch.tensor(test_accs)
.view(folds, epochs).mean(dim=0).max(dim=0)` (GraphCL's `epoch_select='test_max'`). That
chooses the reported epoch on the test split (error), as the builtin `max(test_accs)` does.
Look-alikes: the epoch picked on the validation scores (`val_accs.argmax()` indexing the
test scores), the last epoch's test score, an argmax over classes. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import run_cases

LOOP = """
import numpy as np
import torch


def train(model, optimizer, loader):
    for x, y in loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def run(model, optimizer, train_loader, val_loader, test_loader, evaluate, epochs):
    val_accs, test_accs = [], []
    for epoch in range(epochs):
        train(model, optimizer, train_loader)
        val_accs.append(evaluate(model, val_loader))
        test_accs.append(evaluate(model, test_loader))
"""

CASES = {
    # Bug: the epoch with the best test accuracy is what gets reported.
    "np_argmax.py": LOOP + """
    best = np.argmax(test_accs)
    return test_accs[best]
""",
    # Bug: folds x epochs of test accuracy, the best mean epoch picked along the first axis.
    "tensor_max.py": LOOP + """
    scores = torch.tensor(test_accs).view(1, epochs)
    _, chosen = scores.mean(dim=0).max(dim=0)
    return scores[:, chosen].mean().item()
""",
    # Look-alike: the epoch is chosen on validation accuracy, its test accuracy reported.
    "val_argmax.py": LOOP + """
    chosen = np.array(val_accs).argmax()
    return test_accs[chosen]
""",
    # Look-alike: the last epoch's test accuracy.
    "last.py": LOOP + """
    return np.array(test_accs)[-1]
""",
    # Look-alike: an argmax over the classes of the last predictions (per row, axis 1).
    "per_row.py": LOOP + """
    table = np.stack(test_accs)
    labels = table.argmax(1)
    return labels
""",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("epoch_choice"), CASES, "TRN204")


@pytest.mark.parametrize("name", ["np_argmax.py", "tensor_max.py"])
def test_reduction_over_kept_test_scores_is_an_error(found, name):
    assert [(f["line"], f["severity"]) for f in found[name]] == [(17, "error")]


@pytest.mark.parametrize("name", ["val_argmax.py", "last.py", "per_row.py"])
def test_other_reductions_stay_a_report(found, name):
    # The test split is still scored inside the loop (the documented info finding), but
    # nothing chosen on it makes it an error.
    assert [(f["line"], f["severity"]) for f in found[name]] == [(17, "info")]
