"""TRN201/TRN202 families from session 15 (s15-leak), each bug with its correct look-alike,
through the real command.

- TRN202: darts' `Scaler` (a scikit-learn scaler wrapped for a `TimeSeries`) fitted on the
  whole series, then the series split by its own method (`series.split_after(0.8)`) or by
  slices named as test data; fitting it on the training part is correct, and so are darts'
  transformers that learn nothing from the time rows (`Diff`, `StaticCovariatesTransformer`).
  A backtest of the scaled series
  (`model.historical_forecasts(series, start=0.8, ...)`, `backtest`) is a split too: it
  trains on the first windows and scores forecasts of the later ones, whose values shaped the
  scaler; a scaler fitted on the training part and only applied to the whole series is
  correct. TRN201 sees the same scaler refitted on the validation series;
- TRN202: missing values filled with a statistic of all the rows (`df[c] =
  df[c].fillna(df[c].median())`, `df.fillna(df.mean(), inplace=True)`, in a loop over the
  columns) before the frame is split: an imputer fitted by hand. Filling with a constant,
  filling the training part with its own statistic and the test part with the training one,
  or filling a frame that is never split, is correct;
- TRN202: a data-preparation class whose orchestrating method calls a method that scales a
  `self.` attribute on all its rows, then one that builds windows from it (returning them),
  then one that slices its argument into train/test parts: the fitted data flows through the
  returned windows and the argument. Windows built from another attribute (not the fitted
  one) split the same way are correct.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_DARTS_HEAD = """
import pandas as pd
from darts import TimeSeries
from darts.dataprocessing.transformers import Diff, Scaler
from darts.models import NBEATSModel

df = pd.read_csv("meter.csv", parse_dates=["timestamp"])
series = TimeSeries.from_dataframe(df, "timestamp", "reading")
"""

DARTS_CASES = {
    # Bug: the scaler sees the whole series, then the series is cut at 80%.
    "darts_scaler_then_split_after_bad.py": _DARTS_HEAD + """
scaler = Scaler()
series = scaler.fit_transform(series)
train, val = series.split_after(0.8)
model = NBEATSModel(input_chunk_length=24, output_chunk_length=12)
model.fit(train, val_series=val)
""",
    # Bug: the same, in a forecaster class that slices the scaled series into named parts.
    "darts_scaler_then_named_slices_bad.py": _DARTS_HEAD + """

class Forecaster:
    def prepare(self):
        self.scaler = Scaler()
        self.scaled = self.scaler.fit_transform(series)
        cut = int(0.8 * len(self.scaled))
        self.train_series = self.scaled[:cut]
        self.test_series = self.scaled[cut:]
""",
    # Look-alike: split first, the scaler learns from the training part only.
    "darts_split_then_scaler_ok.py": _DARTS_HEAD + """
train, val = series.split_after(0.8)
scaler = Scaler()
train_scaled = scaler.fit_transform(train)
val_scaled = scaler.transform(val)
""",
    # Look-alike: differencing learns nothing from the values before the split.
    "darts_diff_then_split_ok.py": _DARTS_HEAD + """
diff = Diff()
series = diff.fit_transform(series)
train, val = series.split_after(0.8)
""",
    # Bug: the scaler sees the whole series, then a backtest retrains on its first windows
    # and scores the forecasts of the later ones.
    "darts_scaler_then_backtest_bad.py": _DARTS_HEAD + """
scaler = Scaler()
scaled = scaler.fit_transform(series)
model = NBEATSModel(input_chunk_length=24, output_chunk_length=12)
forecasts = model.historical_forecasts(series=scaled, start=0.8, forecast_horizon=12, retrain=True)
""",
    # Look-alike: the scaler learns from the training part; the backtest runs on the whole
    # series only transformed with it.
    "darts_train_scaler_then_backtest_ok.py": _DARTS_HEAD + """
train, val = series.split_after(0.8)
scaler = Scaler()
scaler.fit(train)
scaled = scaler.transform(series)
model = NBEATSModel(input_chunk_length=24, output_chunk_length=12)
model.fit(scaler.transform(train))
forecasts = model.historical_forecasts(scaled, start=0.8, forecast_horizon=12, retrain=False)
""",
    # Look-alike: the static covariates (one row per component, not per time step) are
    # encoded before the time split; no time row shapes them.
    "darts_static_covariates_then_split_ok.py": _DARTS_HEAD + """
from darts.dataprocessing.transformers import StaticCovariatesTransformer

encoder = StaticCovariatesTransformer()
series = encoder.fit_transform(series)
train, val = series.split_after(0.8)
""",
    # Bug (TRN201): the scaler refitted on the validation series.
    "darts_scaler_refit_on_val_bad.py": _DARTS_HEAD + """
train, val = series.split_after(0.8)
scaler = Scaler()
train_scaled = scaler.fit_transform(train)
val_scaled = scaler.fit_transform(val)
""",
}

DARTS_EXPECTED = {
    "darts_scaler_then_split_after_bad.py": [("TRN202", 10)],
    "darts_scaler_then_named_slices_bad.py": [("TRN202", 13)],
    "darts_split_then_scaler_ok.py": [],
    "darts_diff_then_split_ok.py": [],
    "darts_static_covariates_then_split_ok.py": [],
    "darts_scaler_refit_on_val_bad.py": [("TRN201", 12)],
    "darts_scaler_then_backtest_bad.py": [("TRN202", 10)],
    "darts_train_scaler_then_backtest_ok.py": [],
}


@pytest.fixture(scope="module")
def darts_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s15_darts"), DARTS_CASES, "TRN201,TRN202")


@pytest.mark.parametrize("name", sorted(DARTS_EXPECTED))
def test_darts_scaler_and_series_splits(darts_found, name):
    assert codes_lines(darts_found[name]) == DARTS_EXPECTED[name]


_FRAME_HEAD = """
import pandas as pd
from sklearn.model_selection import train_test_split

df = pd.read_csv("titanic.csv")
"""

IMPUTATION_CASES = {
    # Bug: each column's median over every row fills the gaps, in a loop, then the split.
    "median_fill_loop_then_split_bad.py": _FRAME_HEAD + """
for col in df.columns:
    df.fillna({col: df[col].median()}, inplace=True)
train_set, test_set = train_test_split(df, test_size=0.2)
""",
    # Bug: one column filled with its mean, assigned back, then the split.
    "mean_fill_column_then_split_bad.py": _FRAME_HEAD + """
df["Age"] = df["Age"].fillna(df["Age"].mean())
X_train, X_test = train_test_split(df, test_size=0.2)
""",
    # Bug: the whole frame filled with its column means in place, then a time cut.
    "mean_fill_frame_then_slice_bad.py": _FRAME_HEAD + """
df.fillna(df.mean(), inplace=True)
n = int(len(df) * 0.8)
df_test = df[n:]
""",
    # Look-alike: split first; the test part is filled with the training median.
    "split_then_train_median_ok.py": _FRAME_HEAD + """
X_train, X_test = train_test_split(df, test_size=0.2)
median = X_train["Age"].median()
X_train["Age"] = X_train["Age"].fillna(X_train["Age"].median())
X_test["Age"] = X_test["Age"].fillna(median)
""",
    # Look-alike: a constant or a forward fill learns nothing from the rows.
    "constant_fill_then_split_ok.py": _FRAME_HEAD + """
df.fillna(0, inplace=True)
df["Cabin"] = df["Cabin"].fillna(method="ffill")
X_train, X_test = train_test_split(df, test_size=0.2)
""",
    # Look-alike: the filled frame is never split (the test file is a frame of its own).
    "fill_without_split_ok.py": _FRAME_HEAD + """
df["Age"] = df["Age"].fillna(df["Age"].median())
model_input = df.values
""",
}

IMPUTATION_EXPECTED = {
    "median_fill_loop_then_split_bad.py": [("TRN202", 7)],
    "mean_fill_column_then_split_bad.py": [("TRN202", 6)],
    "mean_fill_frame_then_slice_bad.py": [("TRN202", 6)],
    "split_then_train_median_ok.py": [],
    "constant_fill_then_split_ok.py": [],
    "fill_without_split_ok.py": [],
}


@pytest.fixture(scope="module")
def imputation_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s15_imputation"), IMPUTATION_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(IMPUTATION_EXPECTED))
def test_fill_with_statistic_of_all_rows(imputation_found, name):
    assert codes_lines(imputation_found[name]) == IMPUTATION_EXPECTED[name]


_PREPARE_CLASS = """
import pandas as pd
from sklearn import preprocessing


class DataPrepare:
    def __init__(self, path):
        self.data = pd.read_csv(path)
        self.dates = pd.read_csv(path + ".dates")
        self.scaler = preprocessing.MinMaxScaler()

    def _standardize(self):
        self.data["load"] = self.scaler.fit_transform(self.data[["load"]])

    def _windows(self):
        columns = [self.data.shift(i) for i in range(12)]
        return pd.concat(columns, axis=1).dropna()

    def _calendar(self):
        return pd.get_dummies(self.dates["weekday"])

    def _split(self, frame):
        values = frame.values
        n = int(len(values) * 0.8)
        train_x = values[:n]
        test_x = values[n:]
        return train_x, test_x
"""

CLASS_FLOW_CASES = {
    # Bug: scale all rows, build windows from the scaled attribute, split the windows.
    "method_scales_windows_then_splits_argument_bad.py": _PREPARE_CLASS + """
    def prepare(self):
        self._standardize()
        framed = self._windows()
        return self._split(framed)
""",
    # Bug: the fitted attribute itself handed to the splitting method.
    "method_scales_then_splits_attribute_argument_bad.py": _PREPARE_CLASS + """
    def prepare(self):
        self._standardize()
        return self._split(self.data)
""",
    # Look-alike: what is split is built from another attribute, not the scaled one.
    "method_scales_then_splits_other_data_ok.py": _PREPARE_CLASS + """
    def prepare(self):
        self._standardize()
        calendar = self._calendar()
        return self._split(calendar)
""",
}

CLASS_FLOW_EXPECTED = {
    "method_scales_windows_then_splits_argument_bad.py": [("TRN202", 12)],  # at the fit (s16)
    "method_scales_then_splits_attribute_argument_bad.py": [("TRN202", 12)],  # at the fit (s16)
    "method_scales_then_splits_other_data_ok.py": [],
}


@pytest.fixture(scope="module")
def class_flow_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s15_class_flow"), CLASS_FLOW_CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(CLASS_FLOW_EXPECTED))
def test_fitted_attribute_through_methods_to_a_split(class_flow_found, name):
    assert codes_lines(class_flow_found[name]) == CLASS_FLOW_EXPECTED[name]
