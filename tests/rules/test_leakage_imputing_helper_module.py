"""TRN202 through a cleaning helper of another module that imports nothing of ML: it fills
gaps with the columns' means (`df.fillna(df.mean(), inplace=True)`) and returns the frame,
which the caller splits. The helper's module names no framework and no fitting word, yet it
is what leaks: it is parsed and summarized (prefilter's VERBS, project's _FITTING_WORDS).
Reported at the caller's call and at the helper's fit (split_results.py: the callers' summaries).
Correct look-alike: the caller splits first and cleans the training part only.
"""

from __future__ import annotations

import pytest

from tests.conftest import check_json
from tests.rules._core_cases import codes_lines, run_cases

CLEANING = """
import pandas as pd

def data_cleaning(df):
    df.experience = pd.to_numeric(df.experience)
    df.fillna(df.mean(), inplace=True)
    return df
"""

SPLIT_AFTER = """
import pandas as pd
from sklearn.model_selection import train_test_split
from src import cleaning

df = pd.read_csv("train.csv")
df = cleaning.data_cleaning(df)
X_train, X_test = train_test_split(df, test_size=0.2)
"""

SPLIT_BEFORE = """
import pandas as pd
from sklearn.model_selection import train_test_split
from src.cleaning import data_cleaning

df = pd.read_csv("train.csv")
train_df, test_df = train_test_split(df, test_size=0.2)
train_df = data_cleaning(train_df)
"""

# Per project: the caller's finding (at the call) and the helper's (at the fit, the place to
# fix), the whole project checked and the helper checked alone.
PROJECTS = {
    "split_after_bad": (SPLIT_AFTER, [("TRN202", 6)], [("TRN202", 5)]),
    "split_before_ok": (SPLIT_BEFORE, [], []),
}


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_imputing_helper_of_another_module(tmp_path, name):
    caller, at_call, at_fit = PROJECTS[name]
    found = run_cases(tmp_path, {"src/__init__.py": "", "src/cleaning.py": CLEANING, "main.py": caller}, "TRN202")
    assert codes_lines(found["main.py"]) == at_call
    assert codes_lines(found["src/cleaning.py"]) == at_fit
    (tmp_path / ".git").mkdir()
    report, _ = check_json("--select", "TRN202", "--no-cache", "src/cleaning.py", cwd=tmp_path)
    assert codes_lines(report["findings"]) == at_fit
