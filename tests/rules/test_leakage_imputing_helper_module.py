"""TRN202 through a cleaning helper of another module that imports nothing of ML: it fills
gaps with the columns' means (`df.fillna(df.mean(), inplace=True)`) and returns the frame,
which the caller splits. The helper's module names no framework and no fitting word, yet it
is what leaks: it is parsed and summarized (prefilter's VERBS, project's _FITTING_WORDS).
Correct look-alike: the caller splits first and cleans the training part only.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    "src/__init__.py": "",
    "src/cleaning.py": """
import pandas as pd

def data_cleaning(df):
    df.experience = pd.to_numeric(df.experience)
    df.fillna(df.mean(), inplace=True)
    return df
""",
    "split_after_bad.py": """
import pandas as pd
from sklearn.model_selection import train_test_split
from src import cleaning

df = pd.read_csv("train.csv")
df = cleaning.data_cleaning(df)
X_train, X_test = train_test_split(df, test_size=0.2)
""",
    "split_before_ok.py": """
import pandas as pd
from sklearn.model_selection import train_test_split
from src.cleaning import data_cleaning

df = pd.read_csv("train.csv")
train_df, test_df = train_test_split(df, test_size=0.2)
train_df = data_cleaning(train_df)
""",
}

EXPECTED = {
    "src/__init__.py": [],
    "src/cleaning.py": [],
    "split_after_bad.py": [("TRN202", 6)],
    "split_before_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("imputing_helper"), CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(CASES))
def test_imputing_helper_of_another_module(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
