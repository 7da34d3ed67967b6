"""Functions of other modules whose returned data this file splits (the caller's side of a
fitting helper, TRN202).

`df = cleaning.data_cleaning(df)`, then `train_test_split(df)`: when `data_cleaning` (in
another module) fills gaps or fits a scaler on all the rows it is handed and returns them,
the leak is the fit in that module. Checking that module alone must find it: the callers'
summaries say which functions of which modules have their results split here, and with
which arguments handed as a part (`clean(train_df)` after a split fits a part: no leak).
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.leakage import follow_to_split
from auditor.analysis.names import resolve_import
from auditor.analysis.result_use import names_assigned

# Libraries whose functions are no project helper (a cheap screen before any walk).
_LIBRARIES = frozenset({"numpy", "np", "pandas", "pd", "sklearn", "torch", "scipy", "os", "sys", "json",
                        "pickle", "joblib", "math", "random", "re", "time", "datetime", "collections",
                        "itertools", "functools", "pathlib", "matplotlib", "seaborn", "tensorflow", "keras",
                        "torchvision", "transformers", "datasets", "tqdm", "logging", "argparse", "yaml"})
# Calls looked at per file at most: a long notebook's every call is no helper.
_MAX_CALLS = 200


def split_results(prog, module: str, is_package: bool = False) -> dict:
    """{"module.function": [positions and keywords of the arguments handed as a part], ...}
    for calls to functions of other modules whose assigned result this file then splits."""
    from auditor.analysis.fitted_data import fits_a_part

    model = prog.model
    found: dict = {}
    looked = 0
    for site in model.calls:
        if site.qualname is None or not isinstance(site.statement, cst.Assign) \
                or site.qualname.lstrip(".").split(".", 1)[0] in _LIBRARIES:
            continue
        target = resolve_import(module, site.qualname, is_package)
        if target is None or not target[0]:
            continue
        looked += 1
        if looked > _MAX_CALLS:
            break
        block = site.function.body if site.function is not None else model.module
        if follow_to_split(model, block, site.statement, set(names_assigned(site.statement)), site.function) is None:
            continue
        parts = [str(index) for index, arg in enumerate(a for a in site.node.args if a.keyword is None and not a.star)
                 if fits_a_part(prog, site.node, site.function, arg.value)]
        parts += [arg.keyword.value for arg in site.node.args
                  if arg.keyword is not None and fits_a_part(prog, site.node, site.function, arg.value)]
        found.setdefault(".".join(target), []).append(parts)
    return found


def callers_splitting(project, module: str, function: str, parameter, index) -> list:
    """Modules of the project that split what `module.function` returns, when handed the
    fitted parameter (`parameter`, at `index`) whole, not as a part."""
    summaries = getattr(project, "summaries", None) or {}
    names = {f"{module}.{function}"}
    found = []
    for caller, summary in sorted(summaries.items()):
        if caller == module:
            continue
        for target, calls in (getattr(summary, "split_results", None) or {}).items():
            if not (target in names or target.endswith("." + f"{module}.{function}")
                    or f"{module}.{function}".endswith("." + target)):
                continue
            if any(parameter is None or (str(index) not in parts and parameter not in parts) for parts in calls):
                found.append(caller)
                break
    return found
