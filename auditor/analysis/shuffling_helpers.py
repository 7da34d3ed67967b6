"""Loader builders of a module that shuffle unless told not to, for callers in other modules.

OpenMMLab-style code builds every loader through one helper of the project,
`def build_dataloader(dataset, samples_per_gpu, workers_per_gpu, num_gpus=1, shuffle=True)`
handing `shuffle` on to `DataLoader(..., shuffle=shuffle)`; a test script that forgets
`shuffle=False` reads its test data in a random order. The rule sees the DataLoader only in the
helper's module, and the test data only in the caller's: the project summary carries, next to
the shuffling loader classes, the top-level functions that behave the same way.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel, FunctionInfo
from auditor.analysis.names import matches

_DATALOADER = "torch.utils.data.DataLoader"


def shuffling_functions(model: FileModel) -> list[str]:
    """Names of the module's top-level functions whose `shuffle` parameter defaults to True and
    is handed, unchanged, to a torch DataLoader's `shuffle`."""
    return sorted(info.name for info in model.function_info.values()
                  if info.cls is None and info.parent is None and _forwards_default_shuffle(model, info))


def _forwards_default_shuffle(model: FileModel, info: FunctionInfo) -> bool:
    default = info.defaults.get("shuffle")
    if not (isinstance(default, cst.Name) and default.value == "True"):
        return False
    if model.values_of("shuffle", info.node):
        return False  # `shuffle = shuffle and not test_mode`: recomputed before the loader
    return any(matches(site.qualname, _DATALOADER) and _shuffle_argument(site.node) == "shuffle"
               for site in info.calls)


def _shuffle_argument(call: cst.Call) -> Optional[str]:
    """The name given as the DataLoader's `shuffle` (by keyword or third position), else None."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "shuffle":
            return arg.value.value if isinstance(arg.value, cst.Name) else None
    if len(positional) > 2 and isinstance(positional[2].value, cst.Name):
        return positional[2].value.value
    return None
