"""TRN202 when the fit and the split are in different places: a data-loading function of
another module that returns data scaled over all its rows (Dynamic-DeepHit, TabSurvey), and
a function of the same file that splits the data it is handed (`cross_validation(model, X,
y)` running `KFold.split(X)`). Each bug beside its correct look-alike, through the real
command (one run: the project summary links the modules)."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    # Bug: the loader of another module standardises every row; the caller splits the result.
    "deephit/import_data.py": """
import numpy as np
import pandas as pd

def import_dataset(path):
    df = pd.read_csv(path)
    X = df.drop(columns=["label"]).to_numpy()
    X = (X - X.mean(0)) / X.std(0)
    return X, df["label"].to_numpy()
""",
    "deephit/main.py": """
from sklearn.model_selection import train_test_split
import import_data as impt

X, y = impt.import_dataset("data.csv")
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
""",
    # Bug: a scaler fitted in the loader, the k-fold split inside a function of the caller's file.
    "tabsurvey/utils/load_data.py": """
from sklearn.preprocessing import StandardScaler

def load_data(args):
    X, y = read_table(args.path)
    if args.scale:
        scaler = StandardScaler()
        X[:, args.num_idx] = scaler.fit_transform(X[:, args.num_idx])
    return X, y
""",
    "tabsurvey/train.py": """
from sklearn.model_selection import KFold
from utils.load_data import load_data

def cross_validation(model, X, y, args):
    for train_index, test_index in KFold(n_splits=5).split(X, y):
        model.fit(X[train_index], y[train_index])

def main(args, model):
    X, y = load_data(args)
    cross_validation(model, X, y, args)
""",
    # Look-alike: the loader of another module fits its scaler on the training rows only.
    "informer/data_loader.py": """
from sklearn.preprocessing import StandardScaler

def read_series(frame, n_train):
    values = frame.to_numpy()
    scaler = StandardScaler()
    scaler.fit(values[:n_train])
    return scaler.transform(values), scaler
""",
    "informer/run.py": """
from sklearn.model_selection import train_test_split
from data_loader import read_series

def main(frame, n_train):
    data, scaler = read_series(frame, n_train)
    train, test = data[:n_train], data[n_train:]
    return train, test
""",
    # Look-alike: the loader of another module returns the raw data; it is scaled after the split.
    "raw/loading.py": """
import pandas as pd

def load_table(path):
    frame = pd.read_csv(path)
    return frame.drop(columns=["y"]).to_numpy(), frame["y"].to_numpy()
""",
    "raw/fit.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from loading import load_table

X, y = load_table("t.csv")
X_train, X_test, y_train, y_test = train_test_split(X, y)
scaler = StandardScaler().fit(X_train)
""",
    # Bug, one file: fitted data handed to a function that splits it.
    "cv_helper_same_file.py": """
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

def cross_validation(model, X, y):
    for tr, te in KFold(5).split(X):
        model.fit(X[tr], y[tr])

def main(model, X, y):
    X = StandardScaler().fit_transform(X)
    cross_validation(model, X, y)
""",
    # Look-alike, one file: the scaler is fitted on all rows but never applied (only its
    # statistics are printed); the helper splits the raw data.
    "cv_helper_scaler_unused.py": """
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

def cross_validation(model, X, y):
    for tr, te in KFold(5).split(X):
        model.fit(X[tr], y[tr])

def main(model, X, y):
    scaler = StandardScaler()
    scaler.fit(X)
    print(scaler.mean_)
    cross_validation(model, X, y)
""",
    # Bug, one file: a helper that returns `fit_transform` directly, on all rows before the split.
    "returned_fit_transform.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

def scale(X):
    return MinMaxScaler().fit_transform(X)

X = scale(X)
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    # Look-alike: the same helper given the training part after the split.
    "returned_fit_transform_on_part.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

def scale(X):
    return MinMaxScaler().fit_transform(X)

X_train, X_test = train_test_split(X, test_size=0.2)
X_train = scale(X_train)
""",
    # Bug: each branch loads (and standardises) one dataset; the split after the `if` reads
    # whichever ran (the `elif` rebinding does not end the first branch's data).
    "branches/loaders.py": """
import numpy as np

def load_a(path):
    X = np.loadtxt(path)
    X = (X - X.mean(0)) / X.std(0)
    return X

def load_b(path):
    X = np.loadtxt(path)
    X = (X - X.mean(0)) / X.std(0)
    return X
""",
    "branches/run.py": """
from sklearn.model_selection import train_test_split
import loaders

if mode == "A":
    X = loaders.load_a("a.txt")
elif mode == "B":
    X = loaders.load_b("b.txt")
X_train, X_test = train_test_split(X)
""",
    # Look-alike: PolynomialFeatures learns nothing from the rows; the raw data is split inside
    # a helper and the fitted expansion is applied to new points afterwards.
    "stateless_then_helper_split.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import PolynomialFeatures

def plot_learning_curves(model, X, y):
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2)
    model.fit(X_train, y_train)

poly = PolynomialFeatures(degree=2)
X_poly = poly.fit_transform(X)
plot_learning_curves(model, X, y)
X_new_poly = poly.transform(X_new)
""",
    # Bug: the standardising loader reached through its package's re-export
    # (`from .prep import load_scaled` in data/__init__.py).
    "reexported/data/__init__.py": "from .prep import load_scaled\n",
    "reexported/data/prep.py": """
import numpy as np

def load_scaled(path):
    X = np.loadtxt(path)
    X = (X - X.mean(0)) / X.std(0)
    return X
""",
    "reexported/main.py": """
from sklearn.model_selection import train_test_split
from data import load_scaled

X = load_scaled("x.txt")
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    # Look-alike: another `data` package star-exports a loader of raw rows; the caller
    # scales after the split.
    "reexported_raw/data/__init__.py": "from .io import *\n",
    "reexported_raw/data/io.py": """
import numpy as np

def load_scaled(path):
    return np.loadtxt(path)
""",
    "reexported_raw/main.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from data import load_scaled

X = load_scaled("x.txt")
X_train, X_test = train_test_split(X, test_size=0.2)
X_train = StandardScaler().fit_transform(X_train)
""",
    # Bug, one file: a helper returns its standardised argument directly (no name in between).
    "returned_statistics.py": """
from sklearn.model_selection import train_test_split

def standardise(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)

X = standardise(X)
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    # Look-alike: the same helper applied to each part after the split, with the training
    # part's statistics passed in for the test part.
    "returned_statistics_on_part.py": """
from sklearn.model_selection import train_test_split

def standardise(X, mean, std):
    return (X - mean) / std

X_train, X_test = train_test_split(X, test_size=0.2)
mean, std = X_train.mean(axis=0), X_train.std(axis=0)
X_train, X_test = standardise(X_train, mean, std), standardise(X_test, mean, std)
""",
    # Bug, across modules: the loader returns `preprocessing.scale(...)` of all rows.
    "scaled_return/loader.py": """
import numpy as np
from sklearn import preprocessing

def load(path):
    return preprocessing.scale(np.loadtxt(path))
""",
    "scaled_return/run.py": """
from sklearn.model_selection import train_test_split
from loader import load

X = load("x.txt")
X_train, X_test = train_test_split(X, test_size=0.2)
""",
}

EXPECTED = {
    "deephit/main.py": [("TRN202", 4)],
    "deephit/import_data.py": [],
    "tabsurvey/train.py": [("TRN202", 9)],
    # The loader fits rows it reads itself and train.py splits what it returns: its own
    # module is flagged at the fit too (split_results.py: the callers' summaries).
    "tabsurvey/utils/load_data.py": [("TRN202", 7)],
    "informer/data_loader.py": [],
    "informer/run.py": [],
    "raw/loading.py": [],
    "raw/fit.py": [],
    "cv_helper_same_file.py": [("TRN202", 9)],
    "cv_helper_scaler_unused.py": [],
    "returned_fit_transform.py": [("TRN202", 7)],
    "returned_fit_transform_on_part.py": [],
    "branches/loaders.py": [],
    "stateless_then_helper_split.py": [],
    "branches/run.py": [("TRN202", 5), ("TRN202", 7)],
    "reexported/main.py": [("TRN202", 4)],
    "reexported/data/prep.py": [],
    "reexported_raw/main.py": [],
    "reexported_raw/data/io.py": [],
    "returned_statistics.py": [("TRN202", 6)],
    "returned_statistics_on_part.py": [],
    "scaled_return/loader.py": [],
    "scaled_return/run.py": [("TRN202", 4)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("fitted_modules"), CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fit_and_split_apart(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_loader_and_what_it_fits(found):
    message = found["tabsurvey/train.py"][0]["message"]
    assert "`load_data()`" in message and "StandardScaler" in message and "cross_validation" in message
