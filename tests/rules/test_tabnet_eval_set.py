"""TRN204 for pytorch-tabnet's own training loop: `clf.fit(X_train, y_train, eval_set=[...])`
stops early on the last `eval_set` entry (patience 10 by default) and restores the weights of
its best epoch, so test data there selects the model. Look-alikes: a validation split last
(the test split earlier in the list is only scored), `patience=0` (no early stopping, the
last weights are kept). Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

SPLIT = """
from pytorch_tabnet.tab_model import TabNetClassifier
from sklearn.model_selection import train_test_split


def run(X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    X_train, X_valid, y_train, y_valid = train_test_split(X_train, y_train, test_size=0.2)
    clf = TabNetClassifier()
"""

CASES = {
    # Bug: the test split is the last (the early-stopping) entry.
    "test_last.py": SPLIT + """
    clf.fit(X_train, y_train, eval_set=[(X_train, y_train), (X_test, y_test)], max_epochs=200)
    return clf.predict(X_test)
""",
    # Bug: the eval set through a name, positionally.
    "positional.py": SPLIT + """
    evaluation = [(X_test, y_test)]
    clf.fit(X_train, y_train, evaluation)
""",
    # Look-alike: validation data is the last entry; the test entry is only scored.
    "valid_last.py": SPLIT + """
    clf.fit(X_train, y_train, eval_set=[(X_test, y_test), (X_valid, y_valid)])
""",
    # Look-alike: no early stopping, the last epoch's weights are kept.
    "no_patience.py": SPLIT + """
    clf.fit(X_train, y_train, eval_set=[(X_test, y_test)], patience=0)
""",
}

EXPECTED = {
    "test_last.py": [("TRN204", 10)],
    "positional.py": [("TRN204", 11)],
    "valid_last.py": [],
    "no_patience.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("tabnet"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tabnet_eval_set(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_slot(found):
    finding = found["test_last.py"][0]
    assert finding["severity"] == "error"
    assert "the last `eval_set` entry of a pytorch-tabnet `fit`" in finding["message"]
