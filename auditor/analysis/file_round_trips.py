"""Data that goes through a file between the fit and the split.

A preprocessing step often writes its result to disk and a later step reads it back:

    df[cols] = StandardScaler().fit_transform(df[cols])      # prepare() or a notebook cell
    df.to_csv("data/processed/clean.csv")
    ...
    df = pd.read_csv("data/processed/clean.csv")             # a later cell, or another function
    X_train, X_test = train_test_split(df, test_size=0.2)

The file carries the fitted rows from the fit to the split. Only within one module: a file
name is no import, so a run does not link a writer and a reader in two modules (and checking
one file must find what checking the project finds). A path is known by the last
literal part of how it is spelled (`"clean.csv"` of `os.path.join(DIR, "clean.csv")`, of
`DIR / "clean.csv"` or of a module constant holding the path).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name

# `frame.to_csv(path)`: methods writing their receiver.
_WRITE_METHODS = frozenset({"to_csv", "to_pickle", "to_parquet", "to_feather", "to_hdf", "to_excel", "to_json"})
# `np.save(path, X)`: functions writing an argument, with the position of the path.
_WRITE_FUNCTIONS = {"np.save": 0, "numpy.save": 0, "np.savetxt": 0, "numpy.savetxt": 0, "np.savez": 0,
                    "numpy.savez": 0, "torch.save": 1, "joblib.dump": 1}
# Calls reading a file back, with the position of the path.
_READ_FUNCTIONS = {"pd.read_csv": 0, "pandas.read_csv": 0, "pd.read_pickle": 0, "pandas.read_pickle": 0,
                   "pd.read_parquet": 0, "pandas.read_parquet": 0, "pd.read_feather": 0,
                   "pandas.read_feather": 0, "pd.read_excel": 0, "pandas.read_excel": 0, "pd.read_json": 0,
                   "pandas.read_json": 0, "pd.read_hdf": 0, "pandas.read_hdf": 0, "np.load": 0, "numpy.load": 0,
                   "np.loadtxt": 0, "numpy.loadtxt": 0, "torch.load": 0, "joblib.load": 0}
# Words a file writing data must contain (a cheap screen before any walk).
WRITE_WORDS = (".to_csv(", ".to_pickle(", ".to_parquet(", ".to_feather(", ".to_hdf(", ".to_excel(",
               ".to_json(", "np.save", "numpy.save", "torch.save(", "joblib.dump(")


def file_name(model, path: Optional[cst.BaseExpression], function=None, depth: int = 0) -> Optional[str]:
    """The file name a path expression ends in (`"clean.csv"`), when it is spelled with a
    literal last part; None when the name is computed (`f"{name}.csv"`, a parameter)."""
    if path is None or depth > 4:
        return None
    if isinstance(path, cst.SimpleString):
        text = path.evaluated_value
        if isinstance(text, bytes):
            return None
        name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return name if "." in name and "{" not in name else None
    if isinstance(path, cst.BinaryOperation) and isinstance(path.operator, (cst.Divide, cst.Add)):
        return file_name(model, path.right, function, depth + 1)
    if isinstance(path, cst.Call):
        callee = dotted_name(path.func) or ""
        if callee.endswith("path.join") and path.args:
            return file_name(model, path.args[-1].value, function, depth + 1)
        if callee in ("Path", "pathlib.Path") and len(path.args) == 1:
            return file_name(model, path.args[0].value, function, depth + 1)
        if callee in ("open", "io.open") and path.args:  # `pickle.dump(X, open(path, "wb"))`
            return file_name(model, path.args[0].value, function, depth + 1)
        return None
    if isinstance(path, cst.Name):
        values = model.values_of(path.value, function)
        if len(values) == 1:
            return file_name(model, values[0], function, depth + 1)
    return None


def _argument(call: cst.Call, position: int, keywords: tuple) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg.value
    plain = [a.value for a in call.args if a.keyword is None and not a.star]
    return plain[position] if len(plain) > position else None


def written_data(model, call: cst.Call, function=None) -> Optional[tuple]:
    """(the data written, the file name) of a call writing data to a named file
    (`df.to_csv("clean.csv")`, `np.save("X.npy", X)`); None otherwise."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in _WRITE_METHODS:
        name = file_name(model, _argument(call, 0, ("path_or_buf", "path", "excel_writer")), function)
        return (func.value, name) if name else None
    qualified = model.qualify_call(call) or dotted_name(func) or ""
    position = _WRITE_FUNCTIONS.get(qualified)
    if position is None:
        return None
    name = file_name(model, _argument(call, position, ("file", "fname", "f", "filename")), function)
    data = _argument(call, 1 - position, ("arr", "obj", "value", "X"))
    return (data, name) if name and data is not None else None


def read_file(model, call: cst.Call, function=None) -> Optional[str]:
    """The file name a call reads data from (`pd.read_csv("clean.csv")`), or None."""
    qualified = model.qualify_call(call) or dotted_name(call.func) or ""
    position = _READ_FUNCTIONS.get(qualified)
    if position is None:
        return None
    return file_name(model, _argument(call, position, ("filepath_or_buffer", "path", "file", "fname", "f")),
                     function)
