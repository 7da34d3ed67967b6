"""TRN201/TRN202 families from session 14 (s14-leak), each bug with its correct look-alike,
through the real command.

- TRN201: a statistic whose name says it is of the test split (`test_mean`) still lends that
  split to the data it rescales when the data it was taken from has no split of its own (a
  generic array, a slice of rows); only a name whose split word is `val` (`max_val`, the
  maximum value) gives way to the data's own split (session 13's narrowing, kept).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

NAMED_STATISTIC_CASES = {
    # Bug: the mean of the test rows (a slice) centres the data a scaler is then fitted on.
    "test_rows_mean_bad.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler

n_train = int(len(x) * 0.8)
test_mean = x[n_train:].mean(0)
x = x - test_mean
scaler = StandardScaler()
scaler.fit(x)
""",
    # Bug: features named as test statistics are standardised with their own mean by a helper.
    "test_named_mean_bad.py": """
import numpy as np


def standardize(d):
    return (d - d.mean(0)) / d.std(0)


feats = np.load("feats.npy")
test_mean = np.mean(feats)
feats = feats - test_mean
feats = standardize(feats)
""",
    # Look-alike: `mean_val` is the mean value of a signal, not a validation statistic.
    "mean_value_ok.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler

signal = np.load("signal.npy")
mean_val = np.mean(signal)
signal = signal - mean_val
scaler = StandardScaler()
scaler.fit(signal)
""",
}

NAMED_STATISTIC_EXPECTED = {
    "test_rows_mean_bad.py": [("TRN201", 8)],
    "test_named_mean_bad.py": [("TRN201", 9), ("TRN201", 11)],
    "mean_value_ok.py": [],
}


@pytest.fixture(scope="module")
def named_statistic_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_named_statistic"), NAMED_STATISTIC_CASES, "TRN201")


@pytest.mark.parametrize("name", sorted(NAMED_STATISTIC_EXPECTED))
def test_statistic_named_for_the_test_split(named_statistic_found, name):
    assert codes_lines(named_statistic_found[name]) == NAMED_STATISTIC_EXPECTED[name]
