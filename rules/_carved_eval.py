"""TRN205: evaluation data carved out of a dataset built with the training transform.

`train_set, val_set = random_split(CIFAR10(root, train=True, transform=train_tf), [...])` or
`val_set = Subset(train_dataset, val_idx)`: the validation part is the same dataset object as
the training part, so it goes through the training transform, random augmentation included.
A file that gives the carved part its own transform afterwards (`val_set.dataset.transform =
test_tf`, a wrapper that applies one) is left alone: that decision is written down.
"""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import EVAL_SPLITS, split_of_name
from rules._helpers import argument, keyword

CARVERS = ("torch.utils.data.random_split", "torch.utils.data.Subset", "torch.utils.data.dataset.random_split",
           "torch.utils.data.dataset.Subset")


def carved_eval_parts(model, site) -> Iterator[tuple]:
    """(evaluation name, the dataset expression it is carved from) for a `random_split` or
    `Subset` call whose result (or a position of it) is bound to a validation/test name."""
    if not matches(site.qualname, *CARVERS):
        return
    source = argument(site.node, "dataset", 0)
    if source is None:
        return
    statement = model.parent(site.node)
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return
    target = statement.targets[0].target
    if site.qualname.endswith("Subset"):
        names = [dotted_name(target)]
    elif isinstance(target, (cst.Tuple, cst.List)):
        names = [dotted_name(e.value) for e in target.elements]
    else:
        return
    for name in names:
        if name and split_of_name(name) in EVAL_SPLITS:
            yield name, source


def retransformed(model, name: str, text: str) -> bool:
    """The file sets a transform on the carved part or on what it wraps (`val_set.transform =
    ...`, `val_set.dataset.transform = ...`), or hands the part to a call other than a loader
    (`TransformedSubset(val_set, test_tf)`): then what it goes through is not, or not only,
    the training transform."""
    if f"{name}.transform" in text or f"{name}.dataset.transform" in text:
        return True
    for site in model.calls:
        if matches(site.qualname, "torch.utils.data.DataLoader") or site.callee in ("len", "print"):
            continue
        if any(dotted_name(a.value) == name for a in site.node.args):
            return True
    return False


def source_transform(model, source: cst.BaseExpression, function, bound_values) -> Optional[cst.BaseExpression]:
    """The `transform=` given to the dataset the part is carved from: the constructor call
    itself, or the one bound to its name."""
    calls = [source] if isinstance(source, cst.Call) else \
        [v for v in bound_values(model, source, function) if isinstance(v, cst.Call)] \
        if isinstance(source, (cst.Name, cst.Attribute)) else []
    for call in calls:
        given = keyword(call, "transform")
        if given is not None:
            return given.value
    return None
