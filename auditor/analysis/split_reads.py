"""Files a module reads and then splits: the reading end of file_round_trips (TRN202)."""

from __future__ import annotations

import libcst as cst

from auditor.analysis.file_round_trips import read_file
from auditor.analysis.leakage import follow_to_split
from auditor.analysis.result_use import names_assigned


def split_reads(model) -> dict:
    """{file name: the reading function's name, or "" at module level} of files this module reads and then splits what it read
    (`df = pd.read_csv("clean.csv")`, ..., `train_test_split(df)`): a module that fits on all
    rows and writes them to that file leaks into this split (TRN202). Stored by file name, one
    walk per module (the same file read twice is one entry)."""
    found = model.cache.get("split_reads")
    if found is not None:
        return found  # one walk per module: each fitted source written to a file asks again
    found = model.cache["split_reads"] = {}
    for site in model.calls:
        if not isinstance(site.statement, cst.Assign) or site.method is not None and site.method not in (
                "read_csv", "read_pickle", "read_parquet", "read_feather", "read_excel", "read_json", "read_hdf",
                "load", "loadtxt"):
            continue
        name = read_file(model, site.node, site.function)
        if name is None or name in found:
            continue
        block = site.function.body if site.function is not None else model.module
        if follow_to_split(model, block, site.statement, set(names_assigned(site.statement)), site.function,
                           inline=False) is not None:
            found[name] = model.info(site.function).name if site.function is not None else ""
    return found


def project_split_reads(model, text: str) -> dict:
    """`split_reads` for the project summary: only a text that reads a data file by name."""
    from auditor.data_files import data_file_names

    return split_reads(model) if data_file_names(text) else {}
