"""TRN202 through a file: data fitted on all its rows, written to disk, read back and split.

A notebook that saves the cleaned frame and reads it back in a later cell, or a module whose
`prepare()` writes what `fit_model()` reads and splits. The file is known by its name,
however the directory is spelled. Correct look-alikes: the fitted file read back but never
split (the test rows come from another file), a different file read and split, the split
made before the fit. Across modules: test_leakage_file_round_trips_across_modules.py. (The
cases share one run, and a file name links modules: each case names files of its own.)
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    # Bug: one scope (a notebook's cells in order): scaled, saved, read back, split.
    "notebook_like_bad.py": """
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

frame = pd.read_csv("raw.csv")
frame[["a", "b"]] = MinMaxScaler().fit_transform(frame[["a", "b"]])
frame.to_csv("scaled.csv", index=False)
del frame
data = pd.read_csv("scaled.csv")
train, test = train_test_split(data, test_size=0.25)
""",
    # Correct: a different file is read back and split.
    "other_file_ok.py": """
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

frame = pd.read_csv("raw.csv")
frame[["a", "b"]] = MinMaxScaler().fit_transform(frame[["a", "b"]])
frame.to_csv("scaled_apart.csv", index=False)
data = pd.read_csv("labels.csv")
train, test = train_test_split(data, test_size=0.25)
""",
    # Correct: split first; only the training part is fitted, then saved and read back.
    "split_first_ok.py": """
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

frame = pd.read_csv("raw.csv")
train, test = train_test_split(frame, test_size=0.25)
scaler = StandardScaler().fit(train[["a"]])
train[["a"]] = scaler.transform(train[["a"]])
np.save("train_scaled.npy", train.values)
X = np.load("train_scaled.npy")
""",
    # Bug: two functions of one file, the writer and the splitting reader.
    # Correct: the other function reads the fitted file whole for training; the test rows
    # come from another file.
    "two_functions_ok.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler

def prepare(raw):
    X = StandardScaler().fit_transform(raw)
    np.save("features_whole.npy", X)

def fit_model():
    X = np.load("features_whole.npy")
    X_test = np.load("test_features.npy")
    return X, X_test
""",
    "two_functions_bad.py": """
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

def prepare(raw):
    X = StandardScaler().fit_transform(raw)
    np.save("features.npy", X)

def fit_model():
    X = np.load("features.npy")
    X_train, X_val = train_test_split(X, test_size=0.1)
    return X_train, X_val
""",
}

EXPECTED = {
    "two_functions_ok.py": [],
    "notebook_like_bad.py": [("TRN202", 7)],
    "other_file_ok.py": [],
    "split_first_ok.py": [],
    "two_functions_bad.py": [("TRN202", 6)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("round_trips"), CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(CASES))
def test_fitted_data_through_a_file(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
