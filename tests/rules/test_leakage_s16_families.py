"""TRN201/TRN202 families from session 16 (s16-leak), each bug with its correct look-alike,
through the real command.

- Transformers kept in containers: one scaler per column or per series, stored in a dict or a
  list (`scalers[col] = MinMaxScaler()`, `{c: StandardScaler() for c in cols}`, `[...
  for _ in cols]`, the dict handed in by the caller) and fitted through an item
  (`scalers[col].fit_transform(...)`, or `sc = scalers[col]` first). Fitted on every row
  before the split: TRN202; on the test part: TRN201; on the training part only: correct.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_HEAD = """
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

df = pd.read_csv("prices.csv")
"""

CONTAINER_CASES = {
    # Bug: one scaler per column in a dict, fitted on the whole column, then the frame is split.
    "dict_item_fit_then_split_bad.py": _HEAD + """
scalers = {}
for c in ["open", "close"]:
    scalers[c] = MinMaxScaler()
    df[c] = scalers[c].fit_transform(df[[c]])
X_train, X_test = train_test_split(df.values, test_size=0.2)
""",
    # Bug: a helper fills the caller's dict with scalers, fits them through a name bound to
    # the item, stacks the columns and returns them; the caller splits the windows.
    "item_alias_in_helper_bad.py": _HEAD + """

def process(frame, processors):
    columns = []
    for c in ["open", "close"]:
        values = frame.loc[:, [c]].values
        if c not in processors:
            processors[c] = MinMaxScaler()
        sc = processors[c]
        values = sc.fit_transform(values)
        columns.append(values)
    return np.dstack(columns).reshape(-1, 2)


def load():
    context = {}
    values = process(df, context)
    X_train, X_test = train_test_split(values, test_size=0.2)
    return X_train, X_test
""",
    # Bug: scalers made by a dict comprehension.
    "comprehension_fit_then_split_bad.py": _HEAD + """
scalers = {c: StandardScaler() for c in ["open", "close"]}
for c in ["open", "close"]:
    df[c] = scalers[c].fit_transform(df[[c]])
train, test = train_test_split(df, test_size=0.2)
""",
    # Bug (TRN201): a list of scalers, the second refitted on the test part.
    "list_item_fit_on_test_bad.py": _HEAD + """
train, test = train_test_split(df, test_size=0.2)
scalers = [StandardScaler() for _ in range(2)]
X_train = scalers[0].fit_transform(train)
X_test = scalers[1].fit_transform(test)
""",
    # Correct: per-column scalers fitted on the training part, the test part only transformed.
    "dict_item_fit_on_train_good.py": _HEAD + """
train, test = train_test_split(df, test_size=0.2)
scalers = {}
for c in ["open", "close"]:
    scalers[c] = StandardScaler()
    train[c] = scalers[c].fit_transform(train[[c]])
    test[c] = scalers[c].transform(test[[c]])
""",
    # Correct: a dict of label encoders (category lists, not statistics) before the split.
    "dict_of_encoders_good.py": _HEAD + """
from sklearn.preprocessing import LabelEncoder
encoders = {}
for c in ["sector", "exchange"]:
    encoders[c] = LabelEncoder()
    df[c] = encoders[c].fit_transform(df[c])
train, test = train_test_split(df, test_size=0.2)
""",
}

CONTAINER_EXPECTED = {
    "dict_item_fit_then_split_bad.py": [("TRN202", 11)],
    "item_alias_in_helper_bad.py": [("TRN202", 23)],
    "comprehension_fit_then_split_bad.py": [("TRN202", 10)],
    "list_item_fit_on_test_bad.py": [("TRN201", 11)],
    "dict_item_fit_on_train_good.py": [],
    "dict_of_encoders_good.py": [],
}


@pytest.fixture(scope="module")
def container_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s16_containers"), CONTAINER_CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(CONTAINER_CASES))
def test_transformer_kept_in_a_container(container_found, name):
    assert codes_lines(container_found[name]) == CONTAINER_EXPECTED[name]


# - TRN201: the data already split above (`train_test_split(df["review"], ...)`) fitted whole
#   afterwards (`vectorizer.fit(df["review"])`, `StandardScaler().fit(X)`, or a helper handed
#   `df`), the fitted transformer then applied to the evaluation part: the evaluation rows
#   shaped it. Correct: the final refit on all rows after cross-validation (applied to all
#   rows, no evaluation part), a label encoder fitted on every label, and a name rebound to
#   the training part before the fit.
_TEXT_HEAD = """
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import LabelEncoder, StandardScaler

df = pd.read_csv("reviews.csv")
"""

REFIT_CASES = {
    "vectorizer_fit_on_split_source_bad.py": _TEXT_HEAD + """
x_train, x_test, y_train, y_test = train_test_split(df["review"], df["label"], test_size=0.2)
vectorizer = CountVectorizer(min_df=5)
vectorizer.fit(df["review"])
X_train = vectorizer.transform(x_train)
X_test = vectorizer.transform(x_test)
""",
    "scaler_chain_fit_on_split_source_bad.py": _TEXT_HEAD + """
X = df[["a", "b"]].values
X_train, X_test = train_test_split(X, test_size=0.2)
scaler = StandardScaler().fit(X)
X_train = scaler.transform(X_train)
X_test = scaler.transform(X_test)
""",
    "helper_handed_split_source_bad.py": _TEXT_HEAD + """

def vectorize(frame, x_train, x_test):
    vectorizer = CountVectorizer(min_df=5)
    vectorizer.fit(frame["review"])
    return vectorizer.transform(x_train), vectorizer.transform(x_test)


x_train, x_test, y_train, y_test = train_test_split(df["review"], df["label"], test_size=0.2)
train_vectors, test_vectors = vectorize(df, x_train, x_test)
""",
    "final_refit_after_cv_good.py": _TEXT_HEAD + """
X = df[["a", "b"]].values
y = df["label"].values
for train_idx, test_idx in KFold(5).split(X):
    fold_scaler = StandardScaler().fit(X[train_idx])
    score(fold_scaler.transform(X[test_idx]), y[test_idx])
scaler = StandardScaler().fit(X)
final_model.fit(scaler.transform(X), y)
""",
    "label_encoder_on_all_labels_good.py": _TEXT_HEAD + """
x_train, x_test, y_train, y_test = train_test_split(df["review"], df["label"], test_size=0.2)
encoder = LabelEncoder()
encoder.fit(df["label"])
y_train = encoder.transform(y_train)
y_test = encoder.transform(y_test)
""",
    "name_rebound_to_training_part_good.py": _TEXT_HEAD + """
X = df[["a", "b"]].values
X_train, X_test = train_test_split(X, test_size=0.2)
X = X_train
scaler = StandardScaler().fit(X)
X_test = scaler.transform(X_test)
""",
}

REFIT_EXPECTED = {
    "vectorizer_fit_on_split_source_bad.py": [("TRN201", 10)],
    "scaler_chain_fit_on_split_source_bad.py": [("TRN201", 10)],
    "helper_handed_split_source_bad.py": [("TRN201", 16)],
    "final_refit_after_cv_good.py": [],
    "label_encoder_on_all_labels_good.py": [],
    "name_rebound_to_training_part_good.py": [],
}


@pytest.fixture(scope="module")
def refit_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s16_refit"), REFIT_CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(REFIT_CASES))
def test_split_data_fitted_whole_afterwards(refit_found, name):
    assert codes_lines(refit_found[name]) == REFIT_EXPECTED[name]


# - TRN202 flow: a loop rebinds its names to the data it iterates (`for inputs, targets in
#   other_loader:`), and a statistic of values (`val_mape = np.mean(errors_val)`) is not rows
#   of them. A frame scaled on its own rows only to plot the trained model's predictions, with
#   another training run after it that averages its validation errors, is not split.
_SERIES_HEAD = """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import MinMaxScaler
from torch.utils.data import DataLoader, TensorDataset
"""

FLOW_CASES = {
    "scaled_frame_only_predicted_good.py": _SERIES_HEAD + """
scaler = MinMaxScaler()
frame = pd.read_csv("sensor_3.csv")
scaled = scaler.fit_transform(frame)
dataset = TensorDataset(torch.tensor(scaled, dtype=torch.float32))
predictions = []
for (inputs,) in DataLoader(dataset, batch_size=1):
    outputs = model(inputs)
    predictions.append(outputs.item())

errors_val = []
for inputs, targets in val_loader:
    outputs = model(inputs)
    errors_val.extend(np.abs(targets.numpy() - outputs.detach().numpy()))
val_mape = np.mean(errors_val)
""",
    "scaled_frame_then_cut_bad.py": _SERIES_HEAD + """
scaler = MinMaxScaler()
frame = pd.read_csv("sensor_1.csv")
scaled = scaler.fit_transform(frame)
X = torch.tensor(scaled, dtype=torch.float32)
n = int(len(X) * 0.8)
train_dataset = TensorDataset(X[:n])
test_dataset = TensorDataset(X[n:])
""",
}

FLOW_EXPECTED = {
    "scaled_frame_only_predicted_good.py": [],
    "scaled_frame_then_cut_bad.py": [("TRN202", 9)],
}


@pytest.fixture(scope="module")
def flow_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s16_flow"), FLOW_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(FLOW_CASES))
def test_loop_rebinding_and_statistics_end_the_flow(flow_found, name):
    assert codes_lines(flow_found[name]) == FLOW_EXPECTED[name]


# - TRN201 across modules: a function of another module fits a transformer on its parameter;
#   the caller hands it the test part, or the whole of the data it split above while the
#   function transforms the evaluation part with that fit. Handing it the training part, or a
#   function whose fit sits under a branch the caller may turn off, is left alone.
MODULE_CASES = {
    "prep/__init__.py": "",
    "prep/features.py": """
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import StandardScaler


def count_vectors(df, x_train, x_test):
    vectorizer = CountVectorizer(min_df=5)
    vectorizer.fit(df["review"])
    return vectorizer.transform(x_train), vectorizer.transform(x_test)


def scale(x):
    return StandardScaler().fit_transform(x)


def maybe_scale(x, fit=False):
    scaler = StandardScaler()
    if fit:
        return scaler.fit_transform(x)
    return x
""",
    "whole_split_data_to_other_module_bad.py": """
import pandas as pd
from sklearn.model_selection import train_test_split
from prep import features

df = pd.read_csv("reviews.csv")
x_train, x_test, y_train, y_test = train_test_split(df["review"], df["label"], test_size=0.2)
train_vectors, test_vectors = features.count_vectors(df, x_train, x_test)
""",
    "test_part_to_other_module_bad.py": """
from sklearn.model_selection import train_test_split
from prep.features import scale

X_train, X_test = train_test_split(X, test_size=0.2)
X_test = scale(X_test)
""",
    "training_part_to_other_module_good.py": """
from sklearn.model_selection import train_test_split
from prep.features import maybe_scale, scale

X_train, X_test = train_test_split(X, test_size=0.2)
X_train = scale(X_train)
X_test = maybe_scale(X_test)
""",
}

MODULE_EXPECTED = {
    "prep/__init__.py": [],
    "prep/features.py": [],
    "whole_split_data_to_other_module_bad.py": [("TRN201", 7)],
    "test_part_to_other_module_bad.py": [("TRN201", 5)],
    "training_part_to_other_module_good.py": [],
}


@pytest.fixture(scope="module")
def module_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s16_modules"), MODULE_CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(MODULE_CASES))
def test_fit_on_parameter_in_another_module(module_found, name):
    assert codes_lines(module_found[name]) == MODULE_EXPECTED[name]


# - TRN202 location: a function that fits data it gets itself (reads a file, its object's
#   attributes) and hands it back, or leaves it in `self.`, is reported at that fit (where the
#   fix goes), not at the caller that splits the result; a helper that fits whatever its
#   caller hands in (`def scale(x)`) is still reported at the caller (the helper is right or
#   wrong by what each caller passes). A loader whose result is never split is silent.
LOCATION_CASES = {
    "loader_fits_own_rows_bad.py": """
import pandas as pd
from sklearn.preprocessing import MinMaxScaler


class Prices:
    def load_scaled(self, look_back=7):
        frame = pd.read_csv("prices.csv")
        shifted = self.add_lags(frame, look_back).to_numpy()
        scaler = MinMaxScaler()
        return scaler.fit_transform(shifted)

    def loaders(self, ratio=0.8):
        data = self.load_scaled()
        x, y = data[:, 1:], data[:, 0]
        cut = int(len(x) * ratio)
        x_train, x_test = x[:cut], x[cut:]
        return x_train, x_test
""",
    "generic_helper_caller_splits_bad.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler


def scale(values):
    frame = values.copy()
    return MinMaxScaler().fit_transform(frame)


X = scale(X)
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    "loader_never_split_good.py": """
import pandas as pd
from sklearn.preprocessing import MinMaxScaler


def load_scaled():
    frame = pd.read_csv("prices.csv")
    return MinMaxScaler().fit_transform(frame)


series = load_scaled()
forecast = model(series[-30:])
""",
}

LOCATION_EXPECTED = {
    "loader_fits_own_rows_bad.py": [("TRN202", 10)],
    "generic_helper_caller_splits_bad.py": [("TRN202", 10)],
    "loader_never_split_good.py": [],
}


@pytest.fixture(scope="module")
def location_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s16_location"), LOCATION_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(LOCATION_CASES))
def test_fit_of_own_data_reported_at_the_fit(location_found, name):
    assert codes_lines(location_found[name]) == LOCATION_EXPECTED[name]
