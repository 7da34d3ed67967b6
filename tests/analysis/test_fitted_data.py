"""fitted_data.fitted_returns: the top-level functions that hand data fitted on all its rows
back to their caller (the project summary's `fitted_returns`)."""

from __future__ import annotations

import textwrap

import libcst as cst

from auditor.analysis.fitted_data import fitted_returns
from auditor.analysis.model import build_file_model
from auditor.analysis.program import program_of


def _returns(source: str) -> dict:
    return fitted_returns(program_of(build_file_model(cst.parse_module(textwrap.dedent(source)))))


def test_loader_scaling_every_row_and_its_caller_that_returns_it():
    found = _returns("""
        from sklearn.preprocessing import StandardScaler

        def scale(X):
            return StandardScaler().fit_transform(X)

        def load(path):
            X = read(path)
            X = scale(X)
            return X

        def load_train_part(path, n):
            X = read(path)
            scaler = StandardScaler().fit(X[:n])
            return scaler.transform(X)
        """)
    assert set(found) == {"scale", "load"}
    assert found["scale"][2:] == ("X", 0)  # fits its own parameter, the first one
    assert found["load"][2:] == (None, None)


def test_a_function_that_splits_what_it_scaled_is_not_one():
    found = _returns("""
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        def prepare(X, y):
            X = StandardScaler().fit_transform(X)
            return train_test_split(X, y)
        """)
    assert found == {}
