"""TRN202 through a file between two modules: one fits on all rows and writes the result,
another reads the file back and splits it (a cookiecutter `build_features.py` and `train.py`).

The file's name links the two modules as an import would (auditor/data_files.py): the whole
project and the writer checked alone give the same finding, cached or not. Correct
look-alikes: the reader uses the file whole (the test rows come from another file), the
reader splits another file, the writer saves raw rows beside labels of a clustering.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import check_json

WRITER_BAD = """
import pandas as pd
from sklearn.preprocessing import StandardScaler

def build_features():
    df = pd.read_csv("data/raw.csv")
    X = df.drop("target", axis=1)
    X_scaled = StandardScaler().fit_transform(X)
    out = pd.DataFrame(X_scaled, columns=X.columns)
    out["target"] = df["target"]
    out.to_csv("data/processed/features.csv", index=False)
"""

READER_SPLITS = """
import os
import pandas as pd
from sklearn.model_selection import train_test_split

PROCESSED = "data/processed"

def train():
    df = pd.read_csv(os.path.join(PROCESSED, "features.csv"))
    X_train, X_test, y_train, y_test = train_test_split(df.drop("target", axis=1), df["target"])
    return X_train, X_test
"""

# The helper fits on whatever rows it gets; its caller stacks the results and saves them.
HELPER_WRITER_BAD = """
import os
import numpy as np
from sklearn.preprocessing import StandardScaler

def process(frame):
    X = StandardScaler().fit_transform(frame)
    return X[:-1], frame["close"].values[1:]

def process_all(frames, save_path="data/processed/"):
    features = []
    for frame in frames:
        X, y = process(frame)
        features.append(X)
    X_all = np.concatenate(features, axis=0)
    np.save(os.path.join(save_path, "X.npy"), X_all)
"""

READER_RANDOM_SPLIT = """
import numpy as np
import torch
from torch.utils.data import TensorDataset, random_split

X = np.load("data/processed/X.npy")
dataset = TensorDataset(torch.tensor(X))
train_ds, val_ds = random_split(dataset, [0.8, 0.2])
"""

READER_WHOLE = """
import pandas as pd

def train():
    train_rows = pd.read_csv("data/processed/features.csv")
    test_rows = pd.read_csv("data/processed/holdout.csv")
    return train_rows, test_rows
"""

READER_OTHER_FILE = """
import pandas as pd
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/processed/labels.csv")
train, test = train_test_split(df)
"""

# Raw rows saved with cluster labels: the scaled copy only fed the clustering.
WRITER_CLUSTERS_OK = """
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

data = pd.read_csv("data/raw.csv")
scaled = StandardScaler().fit_transform(data)
data["label"] = KMeans(n_clusters=4).fit_predict(scaled)
data.to_csv("data/processed/features.csv", index=False)
"""

PROJECTS = {
    "module_to_module_bad": ({"src/build_features.py": WRITER_BAD, "src/train.py": READER_SPLITS},
                             "src/build_features.py", [("TRN202", 7)]),
    "helper_stacked_and_saved_bad": ({"prep.py": HELPER_WRITER_BAD, "train.py": READER_RANDOM_SPLIT},
                                     "prep.py", [("TRN202", 12)]),
    "reader_uses_it_whole_ok": ({"src/build_features.py": WRITER_BAD, "src/train.py": READER_WHOLE},
                                "src/build_features.py", []),
    "reader_splits_another_file_ok": ({"src/build_features.py": WRITER_BAD, "split.py": READER_OTHER_FILE},
                                      "src/build_features.py", []),
    "raw_rows_with_cluster_labels_ok": ({"cluster.py": WRITER_CLUSTERS_OK, "train.py": READER_SPLITS},
                                        "cluster.py", []),
}


def _write(root: Path, files: dict) -> None:
    (root / ".git").mkdir(parents=True)  # the project root, as a clone has
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def _found(root: Path, *args: str) -> list:
    report, _ = check_json("--select", "TRN202", "-j", "1", *args, cwd=root)
    return sorted((Path(f["path"]).as_posix(), f["code"], f["line"]) for f in report["findings"])


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_fitted_data_written_by_one_module_split_by_another(tmp_path, name):
    files, writer, expected = PROJECTS[name]
    _write(tmp_path, files)
    assert [(code, line) for path, code, line in _found(tmp_path, "--no-cache", ".")
            if path == writer] == expected
    # The writer named alone (a pre-commit run), without and then with the cache: the reader
    # is read as a neighbour through the file name, and the finding is the same.
    for args in (("--no-cache",), (), ()):
        assert [(code, line) for _, code, line in _found(tmp_path, *args, writer)] == expected
