"""TRN202 for standardisation that is not a fitted scaler object: functions that take their
statistics from the rows they are given (`zscore`, `preprocessing.scale`, `df.apply(zscore)`),
and statistics by hand in a per-column loop (`mean, std = df[c].mean(), df[c].std()`,
`df.loc[:, c] = (df[c] - mean) / std`), each before a split; windows appended to a list
from fitted data and sliced through `torch.from_numpy(...)`; a scaler or PCA fitted before
`cross_val_score`/`GridSearchCV` make their own folds; and the look-alikes (a fit or
statistics on the first rows only, the training range; a pipeline inside the
cross-validation; a fit with no folds or split at all). Through
the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    # -- bugs: the statistics include the rows that become the test set.
    "zscore_columns_then_split.py": """
import pandas as pd
from scipy.stats import zscore
from sklearn.model_selection import train_test_split

df = pd.read_csv("data.csv")
for col in df.columns.drop("label"):
    df[col] = zscore(df[col])
x = df.drop(columns="label").values
x_train, x_test, y_train, y_test = train_test_split(x, df["label"].values)
""",
    "apply_zscore_then_split.py": """
import pandas as pd
from scipy import stats
from sklearn.model_selection import train_test_split

df = pd.read_csv("data.csv")
features = df.apply(stats.zscore)
train, test = train_test_split(features, test_size=0.2)
""",
    "preprocessing_scale_then_split.py": """
import numpy as np
from sklearn import preprocessing
from sklearn.model_selection import train_test_split

X = np.load("x.npy")
X = preprocessing.scale(X)
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    "paired_stats_loop_then_slice.py": """
import pandas as pd

data = pd.read_csv("hour.csv")
scaled = {}
for each in ["cnt", "temp", "hum"]:
    mean, std = data[each].mean(), data[each].std()
    scaled[each] = [mean, std]
    data.loc[:, each] = (data[each] - mean) / std
test_data = data[-21 * 24:]
data = data[:-21 * 24]
""",
    "windows_appended_then_sliced.py": """
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

df = load_prices()
df["Close"] = StandardScaler().fit_transform(df["Close"])
data = []
for i in range(len(df) - 30):
    data.append(df.Close[i:i + 30])
data = np.array(data)
n = int(0.8 * len(data))
X_train = torch.from_numpy(data[:n, :-1]).float()
X_test = torch.from_numpy(data[n:, :-1]).type(torch.Tensor).to("cpu")
""",
    "scaled_then_cross_val_score.py": """
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X_scaled = StandardScaler().fit_transform(X)
print(cross_val_score(SVC(), X_scaled, y, cv=5).mean())
""",
    "pca_then_grid_search.py": """
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

Z = PCA(n_components=20).fit_transform(X)
search = GridSearchCV(SVC(), {"C": [1, 10]}, cv=5)
search.fit(Z, y)
""",
    "zscore_five_columns_one_split.py": """
import pandas as pd
from scipy.stats import zscore
from sklearn.model_selection import train_test_split

df = pd.read_csv("data.csv")
df["income"] = zscore(df["income"])
df["age"] = zscore(df["age"])
df["aspect"] = zscore(df["aspect"])
x_train, x_test, y_train, y_test = train_test_split(df.drop(columns="label").values, df["label"].values)
""",
    # -- look-alikes.
    "raw_fit_then_cross_val.py": """
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

pca = PCA(n_components=2)
pca.fit(X)
print(pca.explained_variance_ratio_)
print(cross_val_score(make_pipeline(PCA(n_components=2), SVC()), X, y, cv=5))
""",
    "transformer_rebound.py": """
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

pca = PCA(n_components=2)
pca.fit(X)
print(pca.explained_variance_ratio_)
pca = PCA(n_components=0.95)
X_train, X_test = train_test_split(X)
X_train_reduced = pca.fit_transform(X_train)
X_test_reduced = pca.transform(X_test)
""",
    "pipeline_in_cross_val_score.py": """
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

print(cross_val_score(make_pipeline(StandardScaler(), SVC()), X, y, cv=5).mean())
""",
    "scaled_model_fit_no_folds.py": """
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X_scaled = StandardScaler().fit_transform(X)
clf = SVC().fit(X_scaled, y)
print(clf.score(X_scaled, y))
""",
    "fit_on_first_rows_then_windows.py": """
import numpy as np
import torch
from sklearn.preprocessing import MinMaxScaler

prices = np.load("p.npy")
n = int(len(prices) * 0.8)
scaler = MinMaxScaler()
scaler.fit(prices[:n])
scaled = scaler.transform(prices)
windows = []
for i in range(len(scaled) - 30):
    windows.append(scaled[i:i + 30])
windows = np.array(windows)
X_train = torch.from_numpy(windows[:n]).float()
X_test = torch.from_numpy(windows[n:]).float()
""",
    "stats_of_first_rows.py": """
import numpy as np

X = np.load("x.npy")
n = int(len(X) * 0.8)
mean, std = X[:n].mean(0), X[:n].std(0)
X = (X - mean) / std
X_train, X_test = X[:n], X[n:]
""",
    "zscore_each_row.py": """
import numpy as np
from scipy.stats import zscore
from sklearn.model_selection import train_test_split

X = np.load("x.npy")
X = zscore(X, axis=1)
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    "zscore_outlier_filter.py": """
import numpy as np
import pandas as pd
from scipy.stats import zscore
from sklearn.model_selection import train_test_split

df = pd.read_csv("data.csv")
df = df[(np.abs(zscore(df)) < 3).all(axis=1)]
train, test = train_test_split(df, test_size=0.2)
""",
    "zscore_after_split.py": """
import numpy as np
from scipy.stats import zscore
from sklearn.model_selection import train_test_split

X = np.load("x.npy")
X_train, X_test = train_test_split(X, test_size=0.2)
X_train = zscore(X_train)
""",
    "normalize_rows.py": """
import numpy as np
from sklearn.preprocessing import normalize
from sklearn.model_selection import train_test_split

X = np.load("x.npy")
X = normalize(X)
X_train, X_test = train_test_split(X, test_size=0.2)
""",
    "paired_stats_on_train_part.py": """
import pandas as pd

data = pd.read_csv("hour.csv")
train_data, test_data = data[:-500], data[-500:]
for each in ["cnt", "temp"]:
    mean, std = train_data[each].mean(), train_data[each].std()
    train_data.loc[:, each] = (train_data[each] - mean) / std
    test_data.loc[:, each] = (test_data[each] - mean) / std
""",
    "paired_stats_no_split.py": """
import pandas as pd

data = pd.read_csv("hour.csv")
for each in ["cnt", "temp"]:
    mean, std = data[each].mean(), data[each].std()
    data.loc[:, each] = (data[each] - mean) / std
data.to_csv("scaled.csv")
""",
}

EXPECTED = {
    "zscore_columns_then_split.py": [("TRN202", 7)],
    "apply_zscore_then_split.py": [("TRN202", 6)],
    "preprocessing_scale_then_split.py": [("TRN202", 6)],
    "paired_stats_loop_then_slice.py": [("TRN202", 8)],
    "windows_appended_then_sliced.py": [("TRN202", 6)],
    "fit_on_first_rows_then_windows.py": [],
    "stats_of_first_rows.py": [],
    "scaled_then_cross_val_score.py": [("TRN202", 5)],
    "pca_then_grid_search.py": [("TRN202", 5)],
    "pipeline_in_cross_val_score.py": [],
    "scaled_model_fit_no_folds.py": [],
    "zscore_five_columns_one_split.py": [("TRN202", 6)],
    "raw_fit_then_cross_val.py": [],
    "transformer_rebound.py": [],
    "zscore_each_row.py": [],
    "zscore_outlier_filter.py": [],
    "zscore_after_split.py": [],
    "normalize_rows.py": [],
    "paired_stats_on_train_part.py": [],
    "paired_stats_no_split.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("standardise"), CASES, "TRN202")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_standardisation_before_split(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_function_message_names_the_function(found):
    message = found["zscore_columns_then_split.py"][0]["message"]
    assert "`zscore()`" in message and "`df[col]`" in message and "train_test_split" in message
