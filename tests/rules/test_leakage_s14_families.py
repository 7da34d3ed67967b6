"""TRN201/TRN202 families from session 14 (s14-leak), each bug with its correct look-alike,
through the real command.

- TRN201: a statistic whose name says it is of the test split (`test_mean`) still lends that
  split to the data it rescales when the data it was taken from has no split of its own (a
  generic array, a slice of rows); only a name whose split word is `val` (`max_val`, the
  maximum value) gives way to the data's own split (session 13's narrowing, kept);
- TRN201: a transformer that learns nothing from the rows (`PolynomialFeatures`) refitted on
  the test split gives it the training features: not a leak; a scaler refitted there is;
- TRN201: a scikit-learn class the file neither imports nor defines (a notes file written
  assuming the import) or takes from `from sklearn.preprocessing import *` is that class; a
  same-named class from a project star import is not taken for it;
- TRN202: a split written as tuple pairs of row slices or index selections (`X_train, y_train
  = X[:n], y[:n]`, `x_tr, x_te = data[tr_idx], data[te_idx]`) after the scaler saw every row
  (often through a windowing helper) is a split; a scaler fitted on the first rows only is not;
- TRN202: a forecasting dataset class that fits its scaler on the whole series and keeps the
  rows between bounds picked by its split flag from per-part lists (`border1s[self.set_type]`)
  leaks the later parts into the training scaler; fitting on the training bounds, or keeping
  the last rows for a forecast (no per-part bounds), is correct; so does one that z-scores the
  whole series and keeps a slice in the branch of its train flag (`if train_flag:`), unlike one
  that slices first and takes the statistics of the training slice;
- TRN202: a dataset class whose constructor standardises all the rows it loads, split after
  it is built (`random_split(ds, ...)`), and a frame scaled whole then split by row masks
  (`test = df[df["date"] >= cutoff]`); a class built once per file, and a scaler fitted on
  the training mask's rows, are correct;
- TRN201: a helper that fits only on the branch its parameter selects (`if fit:`, `if scaler
  is None:`) called for the test split with the branch turned off only transforms; the same
  call with the branch on (or without the scaler) fits the test split;
- TRN201: a dataset class whose constructor fits a scaler on the rows it loads, built for
  evaluation data (`EEG(train=False)`, `EEG(root, "val")`); built with the training scaler
  handed in, fitting each trial by itself, or always fitting the training file, it is correct;
- TRN202: PyTorch's own ways to split a dataset after every row was scaled: `Subset(ds, idx)`
  and a loader drawing from `SubsetRandomSampler(valid_idx)`; a scaler fitted on the training
  indices only is correct.
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


TRANSFORMER_KIND_CASES = {
    # Look-alike: the polynomial expansion is refitted on the test split; it learns only the
    # number of columns, so the test features are the ones the training fit would give.
    "stateless_refit_ok.py": """
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import PolynomialFeatures

X_train, X_test, y_train, y_test = train_test_split(X, y)
poly = PolynomialFeatures(degree=3)
X_train = poly.fit_transform(X_train)
X_test = poly.fit_transform(X_test)
""",
    # Bug: a notes file that assumes the scikit-learn import refits PCA on the test split.
    "import_less_pca_bad.py": """
pca = PCA(n_components=2)
X_train = pca.fit_transform(X_train)
X_test = pca.fit_transform(X_test)
""",
    # Bug: the scaler comes from scikit-learn through a star import.
    "star_import_scaler_bad.py": """
from sklearn.preprocessing import *

scaler = StandardScaler()
X_train = scaler.fit_transform(X_train)
X_test = scaler.fit_transform(X_test)
""",
    # Look-alike: a project module's star import may define its own `StandardScaler`.
    "project_star_import_ok.py": """
from tools.scaling import *

scaler = StandardScaler()
X_test = scaler.fit_transform(X_test)
""",
    # Look-alike: the file defines its own `PCA` (no scikit-learn class).
    "own_pca_class_ok.py": """
class PCA:
    def fit_transform(self, x):
        return x


pca = PCA()
X_test = pca.fit_transform(X_test)
""",
}

TRANSFORMER_KIND_EXPECTED = {
    "stateless_refit_ok.py": [],
    "import_less_pca_bad.py": [("TRN201", 3)],
    "star_import_scaler_bad.py": [("TRN201", 5)],
    "project_star_import_ok.py": [],
    "own_pca_class_ok.py": [],
}


@pytest.fixture(scope="module")
def transformer_kind_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_transformer_kind"), TRANSFORMER_KIND_CASES, "TRN201")


@pytest.mark.parametrize("name", sorted(TRANSFORMER_KIND_EXPECTED))
def test_which_fits_are_transformer_fits(transformer_kind_found, name):
    assert codes_lines(transformer_kind_found[name]) == TRANSFORMER_KIND_EXPECTED[name]


TUPLE_SPLIT_CASES = {
    # Bug: the whole series is scaled, cut into windows, then split by tuple pairs of slices.
    "windows_then_tuple_slices_bad.py": """
import numpy as np
from sklearn.preprocessing import MinMaxScaler


def windows(series, width):
    xs, ys = [], []
    for i in range(len(series) - width):
        xs.append(series[i:i + width])
        ys.append(series[i + width])
    return np.array(xs), np.array(ys)


scaler = MinMaxScaler()
scaled = scaler.fit_transform(prices.reshape(-1, 1))
X, y = windows(scaled, 20)
n = int(len(X) * 0.8)
X_train, y_train = X[:n], y[:n]
X_test, y_test = X[n:], y[n:]
""",
    # Bug: every row is standardised, then a permutation's index sets pick the parts.
    "permutation_index_pairs_bad.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler

data = np.load("features.npy")
data = StandardScaler().fit_transform(data)
order = np.random.permutation(len(data))
n = int(0.8 * len(data))
train_idx, test_idx = order[:n], order[n:]
x_train, x_test = data[train_idx], data[test_idx]
""",
    # Look-alike: the scaler learns from the training rows only, then the same windows and
    # tuple split follow.
    "train_rows_scaler_then_tuple_slices_ok.py": """
import numpy as np
from sklearn.preprocessing import MinMaxScaler

n_rows = int(len(prices) * 0.8)
scaler = MinMaxScaler().fit(prices[:n_rows].reshape(-1, 1))
scaled = scaler.transform(prices.reshape(-1, 1))
X, y = windows(scaled, 20)
n = n_rows - 20
X_train, y_train = X[:n], y[:n]
X_test, y_test = X[n:], y[n:]
""",
}

TUPLE_SPLIT_EXPECTED = {
    "windows_then_tuple_slices_bad.py": [("TRN202", 14)],
    "permutation_index_pairs_bad.py": [("TRN202", 5)],
    "train_rows_scaler_then_tuple_slices_ok.py": [],
}


@pytest.fixture(scope="module")
def tuple_split_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_tuple_split"), TUPLE_SPLIT_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(TUPLE_SPLIT_EXPECTED))
def test_tuple_pairs_split_fitted_rows(tuple_split_found, name):
    assert codes_lines(tuple_split_found[name]) == TUPLE_SPLIT_EXPECTED[name]


_SERIES_DATASET = """
import pandas as pd
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset


class SeriesDataset(Dataset):
    def __init__(self, path, flag="train", seq_len=96):
        self.set_type = {{"train": 0, "val": 1, "test": 2}}[flag]
        self.seq_len = seq_len
        self.path = path
        self.read()

    def read(self):
        self.scaler = StandardScaler()
        df = pd.read_csv(self.path)
        n_train, n_test = int(len(df) * 0.7), int(len(df) * 0.2)
        border1s = [0, n_train - self.seq_len, len(df) - n_test - self.seq_len]
        border2s = [n_train, len(df) - n_test, len(df)]
        border1 = border1s[self.set_type]
        border2 = border2s[self.set_type]
        values = df[df.columns[1:]].values
{fit}
        data = self.scaler.transform(values)
        self.data_x = data[border1:border2]
"""

SERIES_DATASET_CASES = {
    # Bug: the scaler sees the whole series, validation and test rows included.
    "series_dataset_whole_fit_bad.py": _SERIES_DATASET.format(fit="        self.scaler.fit(values)"),
    # Look-alike: the scaler is fitted on the training bounds only.
    "series_dataset_train_fit_ok.py": _SERIES_DATASET.format(
        fit="        self.scaler.fit(values[border1s[0]:border2s[0]])"),
    # Look-alike: a forecast dataset scales the known series and keeps its last rows.
    "series_forecast_tail_ok.py": """
import pandas as pd
from sklearn.preprocessing import StandardScaler


class ForecastDataset:
    def __init__(self, path, seq_len=96):
        df = pd.read_csv(path)
        border1 = len(df) - seq_len
        border2 = len(df)
        self.scaler = StandardScaler()
        self.scaler.fit(df.values)
        data = self.scaler.transform(df.values)
        self.data_x = data[border1:border2]
""",
}

SERIES_DATASET_EXPECTED = {
    "series_dataset_whole_fit_bad.py": [("TRN202", 22)],
    "series_dataset_train_fit_ok.py": [],
    "series_forecast_tail_ok.py": [],
}


@pytest.fixture(scope="module")
def series_dataset_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_series_dataset"), SERIES_DATASET_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(SERIES_DATASET_EXPECTED))
def test_rows_chosen_by_split_flag(series_dataset_found, name):
    assert codes_lines(series_dataset_found[name]) == SERIES_DATASET_EXPECTED[name]


INSTANCE_AND_MASK_CASES = {
    # Bug: the constructor standardises every row; the instance is split afterwards.
    "dataset_fits_then_random_split_bad.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset, random_split


class Tabular(Dataset):
    def __init__(self, path):
        x = np.load(path)
        self.x = StandardScaler().fit_transform(x)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


dataset = Tabular("features.npy")
train_set, test_set = random_split(dataset, [0.8, 0.2])
""",
    # Look-alike: one instance per file, nothing split after construction.
    "dataset_per_file_ok.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, Dataset


class Tabular(Dataset):
    def __init__(self, path):
        self.x = StandardScaler().fit_transform(np.load(path))

    def __len__(self):
        return len(self.x)


train_set = Tabular("train.npy")
valid_set = Tabular("valid.npy")
valid_loader = DataLoader(valid_set, batch_size=64)
""",
    # Bug: the whole frame's column is scaled, then the rows are split by date masks.
    "scaled_then_date_masks_bad.py": """
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

df = pd.read_csv("prices.csv")
scaler = MinMaxScaler()
df["close"] = scaler.fit_transform(df[["close"]])
train = df[df["date"] < "2020-01-01"]
test = df[df["date"] >= "2020-01-01"]
""",
    # Look-alike: the scaler learns from the training mask's rows only.
    "train_mask_scaler_ok.py": """
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

df = pd.read_csv("prices.csv")
train = df[df["date"] < "2020-01-01"]
test = df[df["date"] >= "2020-01-01"]
scaler = MinMaxScaler()
train_close = scaler.fit_transform(train[["close"]])
test_close = scaler.transform(test[["close"]])
""",
}

INSTANCE_AND_MASK_EXPECTED = {
    "dataset_fits_then_random_split_bad.py": [("TRN202", 9)],
    "dataset_per_file_ok.py": [],
    "scaled_then_date_masks_bad.py": [("TRN202", 6)],
    "train_mask_scaler_ok.py": [],
}


@pytest.fixture(scope="module")
def instance_and_mask_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_instance_mask"), INSTANCE_AND_MASK_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(INSTANCE_AND_MASK_EXPECTED))
def test_split_instances_and_row_masks(instance_and_mask_found, name):
    assert codes_lines(instance_and_mask_found[name]) == INSTANCE_AND_MASK_EXPECTED[name]


_FLAG_HELPER = """
from sklearn.preprocessing import StandardScaler

scaler = StandardScaler()


def prep(x, fit=False):
    if fit:
        return scaler.fit_transform(x)
    return scaler.transform(x)


x_train = prep(x_train, fit=True)
x_test = prep(x_test{test_args})
"""

_SCALER_HELPER = """
from sklearn.preprocessing import StandardScaler


def prep(x, scaler=None):
    if scaler is None:
        scaler = StandardScaler()
        x = scaler.fit_transform(x)
    else:
        x = scaler.transform(x)
    return x, scaler


x_train, fitted = prep(x_train)
x_test, _ = prep(x_test{test_args})
"""

_FALSY_SCALER_HELPER = """
from sklearn.preprocessing import StandardScaler


def prep(X, scaler=None):
    if not scaler:
        scaler = StandardScaler()
        scaler.fit(X)
    return scaler.transform(X), scaler


x_train, fitted = prep(x_train)
x_test, _ = prep(x_test, fitted)
x_val, _ = prep(x_val)
"""

GUARDED_HELPER_CASES = {
    # Bug and look-alike in one file: the validation call fits, the test call does not.
    "falsy_scaler_helper.py": _FALSY_SCALER_HELPER,
    "flag_off_for_test_ok.py": _FLAG_HELPER.format(test_args=""),
    "flag_on_for_test_bad.py": _FLAG_HELPER.format(test_args=", fit=True"),
    "scaler_handed_to_test_ok.py": _SCALER_HELPER.format(test_args=", fitted"),
    "no_scaler_for_test_bad.py": _SCALER_HELPER.format(test_args=""),
}

GUARDED_HELPER_EXPECTED = {
    "falsy_scaler_helper.py": [("TRN201", 13)],
    "flag_off_for_test_ok.py": [],
    "flag_on_for_test_bad.py": [("TRN201", 13)],
    "scaler_handed_to_test_ok.py": [],
    "no_scaler_for_test_bad.py": [("TRN201", 14)],
}


@pytest.fixture(scope="module")
def guarded_helper_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_guarded_helper"), GUARDED_HELPER_CASES, "TRN201")


@pytest.mark.parametrize("name", sorted(GUARDED_HELPER_EXPECTED))
def test_helper_fitting_on_a_guarded_branch(guarded_helper_found, name):
    assert codes_lines(guarded_helper_found[name]) == GUARDED_HELPER_EXPECTED[name]


CONSTRUCTED_CASES = {
    # Bug: the evaluation object fits its own scaler on the test recordings.
    "dataset_flag_fits_test_bad.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset


class EEG(Dataset):
    def __init__(self, train: bool):
        path = "data/train/" if train else "data/test/"
        x = np.load(path + "x.npy")
        self.scaler = StandardScaler()
        self.x = self.scaler.fit_transform(x.reshape(len(x), -1))


train_set = EEG(train=True)
test_set = EEG(train=False)
""",
    # Bug and look-alike: the test object gets the training scaler, the validation one fits its own.
    "dataset_split_string.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset


class Signals(Dataset):
    def __init__(self, root, split, scaler=None):
        x = np.load(f"{root}/{split}.npy")
        if scaler is None:
            scaler = StandardScaler().fit(x)
        self.scaler = scaler
        self.x = scaler.transform(x)


train_set = Signals("data", "train")
test_set = Signals("data", "test", scaler=train_set.scaler)
val_set = Signals("data", "val")
""",
    # Look-alike: every trial is standardised by itself.
    "dataset_per_trial_ok.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset


class Trials(Dataset):
    def __init__(self, split):
        trials = np.load(f"data/{split}.npy")
        self.x = [StandardScaler().fit_transform(t.T).T for t in trials]


test_set = Trials("test")
""",
    # Look-alike: the scaler is always fitted on the training file.
    "dataset_train_file_scaler_ok.py": """
import numpy as np
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset


class Tabular(Dataset):
    def __init__(self, split):
        x_train = np.load("data/train.npy")
        self.scaler = StandardScaler().fit(x_train)
        self.x = self.scaler.transform(np.load(f"data/{split}.npy"))


test_set = Tabular("test")
""",
}

CONSTRUCTED_CASES["loader_function_paths.py"] = """
import pandas as pd
from sklearn.preprocessing import StandardScaler


def load(path, scaler=None):
    df = pd.read_csv(path)
    if scaler is None:
        scaler = StandardScaler().fit(df.drop("y", axis=1))
    return scaler.transform(df.drop("y", axis=1)), df["y"], scaler


def report(data_path, out_dir):
    df = pd.read_csv(data_path)
    features = StandardScaler().fit_transform(df.values)
    df.to_csv(out_dir + "/summary.csv")
    return features


X_train, y_train, fitted = load("data/train.csv")
X_test, y_test, _ = load("data/test.csv", fitted)
X_valid, y_valid, _ = load("data/valid.csv")
summary = report("data/all.csv", "results/test")
"""

# Look-alike: a helper builds the one-hot encoding of the label range for whatever labels it is
# given (the encoder learns the class list, not statistics of the rows).
CONSTRUCTED_CASES["label_range_encoder_ok.py"] = """
from sklearn import preprocessing as pp


def one_hot(series):
    binarizer = pp.LabelBinarizer()
    binarizer.fit(range(max(series) + 1))
    return binarizer.transform(series)


y_train_hot = one_hot(y_train)
y_validation_hot = one_hot(y_validation)
"""

CONSTRUCTED_EXPECTED = {
    "label_range_encoder_ok.py": [],
    # The validation file is loaded without the training scaler (bug); the test file gets it,
    # and `report` is asked for test output, not test rows (look-alikes).
    "loader_function_paths.py": [("TRN201", 8)],
    "dataset_flag_fits_test_bad.py": [("TRN201", 11)],
    "dataset_split_string.py": [("TRN201", 10)],
    "dataset_per_trial_ok.py": [],
    "dataset_train_file_scaler_ok.py": [],
}


@pytest.fixture(scope="module")
def constructed_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_constructed"), CONSTRUCTED_CASES, "TRN201")


@pytest.mark.parametrize("name", sorted(CONSTRUCTED_EXPECTED))
def test_dataset_built_for_evaluation_fits_its_rows(constructed_found, name):
    assert codes_lines(constructed_found[name]) == CONSTRUCTED_EXPECTED[name]


_SAMPLER_SPLIT = """
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, Subset, SubsetRandomSampler, TensorDataset

X = np.load("x.npy")
order = np.random.permutation(len(X))
cut = int(0.8 * len(X))
train_idx, valid_idx = order[:cut], order[cut:]
{scale}
dataset = TensorDataset(torch.tensor(X), torch.tensor(y))
{parts}
"""

SUBSET_CASES = {
    "sampler_after_whole_scaling_bad.py": _SAMPLER_SPLIT.format(
        scale="X = StandardScaler().fit_transform(X)",
        parts="train_loader = DataLoader(dataset, sampler=SubsetRandomSampler(train_idx))\n"
              "valid_loader = DataLoader(dataset, sampler=SubsetRandomSampler(valid_idx))"),
    "subset_after_whole_scaling_bad.py": _SAMPLER_SPLIT.format(
        scale="X = StandardScaler().fit_transform(X)",
        parts="train_set = Subset(dataset, train_idx)\nvalid_set = Subset(dataset, valid_idx)"),
    "sampler_after_train_scaling_ok.py": _SAMPLER_SPLIT.format(
        scale="X = StandardScaler().fit(X[train_idx]).transform(X)",
        parts="train_loader = DataLoader(dataset, sampler=SubsetRandomSampler(train_idx))\n"
              "valid_loader = DataLoader(dataset, sampler=SubsetRandomSampler(valid_idx))"),
}

SUBSET_EXPECTED = {
    "sampler_after_whole_scaling_bad.py": [("TRN202", 10)],
    "subset_after_whole_scaling_bad.py": [("TRN202", 10)],
    "sampler_after_train_scaling_ok.py": [],
}


@pytest.fixture(scope="module")
def subset_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_subset"), SUBSET_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(SUBSET_EXPECTED))
def test_subsets_of_scaled_dataset(subset_found, name):
    assert codes_lines(subset_found[name]) == SUBSET_EXPECTED[name]


_FLAG_BRANCH_DATASET = """
import numpy as np


class Prices:
    def __init__(self, path, train_flag=True, split_ratio=0.8):
        series = np.load(path)
        n = int(split_ratio * len(series))
        if train_flag:
{train_branch}
        else:
{eval_branch}
"""

FLAG_BRANCH_CASES = {
    "flag_branch_whole_series_bad.py": _FLAG_BRANCH_DATASET.format(
        train_branch="            series = (series - np.mean(series)) / np.std(series)\n"
                     "            self.data = series[:n]",
        eval_branch="            series = (series - np.mean(series)) / np.std(series)\n"
                    "            self.data = series[n:]"),
    "flag_branch_train_slice_ok.py": _FLAG_BRANCH_DATASET.format(
        train_branch="            part = series[:n]\n"
                     "            self.data = (part - np.mean(part)) / np.std(part)",
        eval_branch="            head, part = series[:n], series[n:]\n"
                    "            self.data = (part - np.mean(head)) / np.std(head)"),
}

# Look-alike: a windowing function z-scores a calendar covariate (an age index known in
# advance) and keeps the train or test period of it by its flag.
FLAG_BRANCH_CASES["calendar_covariate_ok.py"] = """
import numpy as np
from scipy import stats


def prep_data(data, covariates, total_time, train=True):
    time_len = data.shape[0]
    if not train:
        covariates = covariates[-time_len:]
    age = stats.zscore(np.arange(total_time))
    if train:
        covariates[:time_len, 0] = age[:time_len]
    else:
        covariates[:, 0] = age[-time_len:]
    return np.concatenate([data, covariates], axis=1)


train_windows = prep_data(train_data, covariates, total_time)
test_windows = prep_data(test_data, covariates, total_time, train=False)
"""

FLAG_BRANCH_EXPECTED = {
    "calendar_covariate_ok.py": [],
    "flag_branch_whole_series_bad.py": [("TRN202", 9), ("TRN202", 12)],
    "flag_branch_train_slice_ok.py": [],
}


@pytest.fixture(scope="module")
def flag_branch_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_flag_branch"), FLAG_BRANCH_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(FLAG_BRANCH_EXPECTED))
def test_slice_kept_in_split_flag_branch(flag_branch_found, name):
    assert codes_lines(flag_branch_found[name]) == FLAG_BRANCH_EXPECTED[name]
