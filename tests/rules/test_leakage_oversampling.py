"""TRN202: oversampling before the split (s15-leak, round 2). `SMOTE().fit_resample(X, y)`
(or `RandomOverSampler`, `SMOTETomek`...) on all the rows, then the resampled rows split into
training and evaluation parts: synthetic rows interpolated from test rows (or repeated rows)
land on both sides. Oversampling the training part only, undersampling (it only drops rows),
and resampled data that is never split are correct."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_HEAD = """
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Subset, TensorDataset

df = pd.read_csv("records.csv")
X = df.drop(columns=["target"]).values
y = df["target"].values
"""

CASES = {
    # Bug: SMOTE on every window, then index split and Subset (the EEG notebooks' shape).
    "smote_then_subset_bad.py": """
from imblearn.over_sampling import SMOTE
""" + _HEAD + """
smote = SMOTE(random_state=42)
X_res, y_res = smote.fit_resample(X, y)
dataset = TensorDataset(torch.tensor(X_res), torch.tensor(y_res))
train_idx, val_idx = train_test_split(list(range(len(dataset))), test_size=0.2)
val_set = Subset(dataset, val_idx)
val_loader = DataLoader(val_set, batch_size=32)
""",
    # Bug: random oversampling built in place, back into the same names, then train_test_split.
    "random_oversampler_then_split_bad.py": """
from imblearn.over_sampling import RandomOverSampler
""" + _HEAD + """
X, y = RandomOverSampler(random_state=1).fit_resample(X, y)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y)
""",
    # Bug: a combined sampler (oversamples first) from imblearn.combine.
    "smote_tomek_then_split_bad.py": """
from imblearn.combine import SMOTETomek
""" + _HEAD + """
sampler = SMOTETomek()
X_bal, y_bal = sampler.fit_resample(X, y)
X_train, X_test, y_train, y_test = train_test_split(X_bal, y_bal, test_size=0.2)
""",
    # Correct: split first, oversample the training part only.
    "split_then_smote_ok.py": """
from imblearn.over_sampling import SMOTE
""" + _HEAD + """
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y)
X_train, y_train = SMOTE().fit_resample(X_train, y_train)
train_x = torch.tensor(X_train, dtype=torch.float32)
""",
    # Correct: undersampling drops rows; nothing made from the test rows enters training.
    "undersample_then_split_ok.py": """
from imblearn.under_sampling import RandomUnderSampler
""" + _HEAD + """
X, y = RandomUnderSampler().fit_resample(X, y)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25)
""",
    # Correct: the resampled data is all training data (the test set comes from another file).
    "smote_never_split_ok.py": """
from imblearn.over_sampling import SMOTE
""" + _HEAD + """
X_res, y_res = SMOTE().fit_resample(X, y)
train_loader = DataLoader(TensorDataset(torch.tensor(X_res), torch.tensor(y_res)), batch_size=32)
""",
    # Bug: a helper hands the resampled rows back (`return SMOTE().fit_resample(X, y)`), the
    # caller splits them.
    "smote_helper_then_split_bad.py": """
from imblearn.over_sampling import SMOTE
""" + _HEAD + """

def balance(features, labels):
    return SMOTE().fit_resample(features, labels)


X_bal, y_bal = balance(X, y)
X_train, X_test, y_train, y_test = train_test_split(X_bal, y_bal, test_size=0.2)
""",
    # Correct: the same helper applied to the training part after the split.
    "smote_helper_on_train_ok.py": """
from imblearn.over_sampling import SMOTE
""" + _HEAD + """

def balance(features, labels):
    return SMOTE().fit_resample(features, labels)


X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
X_train, y_train = balance(X_train, y_train)
""",
    # Bug: `SMOTE` called with its import gone (a notebook whose import cell was deleted):
    # the name is bound nowhere, so it can only be imbalanced-learn's class.
    "unimported_smote_then_split_bad.py": _HEAD + """
smote = SMOTE(random_state=42)
X_res, y_res = smote.fit_resample(X, y)
X_train, X_val, y_train, y_val = train_test_split(X_res, y_res, test_size=0.2)
""",
    # Correct: a class of the project that happens to be called SMOTE and adds no rows.
    "own_smote_class_ok.py": _HEAD + """

class SMOTE:
    def fit_resample(self, features, labels):
        return features, labels


X_res, y_res = SMOTE().fit_resample(X, y)
X_train, X_val, y_train, y_val = train_test_split(X_res, y_res, test_size=0.2)
""",
}

EXPECTED = {
    "smote_then_subset_bad.py": [("TRN202", 14)],
    "random_oversampler_then_split_bad.py": [("TRN202", 13)],
    "smote_tomek_then_split_bad.py": [("TRN202", 14)],
    "split_then_smote_ok.py": [],
    "undersample_then_split_ok.py": [],
    "smote_never_split_ok.py": [],
    "smote_helper_then_split_bad.py": [("TRN202", 18)],
    "smote_helper_on_train_ok.py": [],
    "unimported_smote_then_split_bad.py": [("TRN202", 12)],
    "own_smote_class_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("oversampling"), CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_oversampling_before_the_split(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
