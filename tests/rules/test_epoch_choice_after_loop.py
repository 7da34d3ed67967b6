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


# NER-pytorch: the caller hands the evaluation helper its running best and takes the updated
# one back (`best_test_f, f = evaluating(model, test_data, best_test_f)`), so the helper keeps
# the best test score over the epochs, however it computes it (here through a scorer script).
THREADED = """
import torch


def evaluating(model, data, best_f, score_file):
    model.eval()
    with open(score_file, "w") as out:
        for words, tags in data:
            out.write(str(model(words).argmax(-1).tolist()) + "\\n")
    new_f = float(open(score_file + ".result").read())
    if new_f > best_f:
        best_f = new_f
        print("the best F is", new_f)
    return best_f, new_f


def main(model, optimizer, train_data, dev_data, test_data, epochs):
    best_dev_f = best_test_f = -1.0
    for epoch in range(epochs):
        for words, tags in train_data:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(words), tags).backward()
            optimizer.step()
"""

THREADED_CASES = {
    # Bug: the running best test F is threaded through the helper.
    "threaded_test.py": THREADED + """
        best_dev_f, dev_f = evaluating(model, dev_data, best_dev_f, "dev.txt")
        best_test_f, test_f = evaluating(model, test_data, best_test_f, "test.txt")
""",
    # Look-alike: the test F is taken with a fresh threshold each epoch, only printed.
    "fresh_threshold.py": THREADED + """
        best_dev_f, dev_f = evaluating(model, dev_data, best_dev_f, "dev.txt")
        _, test_f = evaluating(model, test_data, -1.0, "test.txt")
        print(test_f)
""",
}


@pytest.fixture(scope="module")
def threaded(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("threaded_best"), THREADED_CASES, "TRN204")


def test_running_best_threaded_through_the_helper_is_an_error(threaded):
    assert [(f["line"], f["severity"]) for f in threaded["threaded_test.py"]] == [(25, "error")]
    assert "`best_test_f`" in threaded["threaded_test.py"][0]["message"]


def test_fresh_threshold_stays_a_report(threaded):
    assert [(f["line"], f["severity"]) for f in threaded["fresh_threshold.py"]] == [(25, "info")]
