"""Python 2 files (print statements, `except E, e:`), common in older research code, are
checked like any other once those two statement forms are read the Python 3 way: an
evaluation every few epochs that leaves the dropout model in eval mode for the next
epoch's steps is found (TRN103) at its line as written; the look-alike that calls train()
at the top of each epoch is quiet; a file with other Python 2 only syntax (backticks) still
reports a syntax error. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_MODEL = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc = nn.Linear(8, 2)
        self.drop = nn.Dropout(0.4)

    def forward(self, x):
        return self.fc(self.drop(x))


def evaluate(model, data):
    model.eval()
    total = 0.
    for x, y in data:
        total += (model(x).argmax(1) == y).float().mean().item()
    print "valid accuracy", total / len(data)
    return total


def train(data, valid, epochs):
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
{TOP}        for x, y in data:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        try:
            print >>log_file, "epoch %d" % epoch, \\
                loss.item()
        except IOError, e:
            print
        if (epoch + 1) % 5 == 0:
            evaluate(model, valid)
    return model
"""

CASES = {
    "periodic_eval.py": _MODEL.replace("{TOP}", ""),
    "train_each_epoch.py": _MODEL.replace("{TOP}", "        model.train()\n"),
    "backticks.py": "import torch\n\nprint `torch.__version__`\n",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("python2"), CASES, "TRN000,TRN103")


def test_python2_training_step_after_periodic_eval_is_found(found):
    assert codes_lines(found["periodic_eval.py"]) == [("TRN103", 33)]  # optimizer.step(), as written


def test_python2_train_mode_set_each_epoch_is_quiet(found):
    assert codes_lines(found["train_each_epoch.py"]) == []


def test_other_python2_syntax_is_still_a_syntax_error(found):
    assert [f["code"] for f in found["backticks.py"]] == ["TRN000"]
