"""Dataset objects whose constructor fits a transformer on the rows it loads, built for
validation or test data (TRN201).

`class EEG(Dataset): def __init__(self, train): x = np.load("train/" if train else "test/");
self.x = StandardScaler().fit_transform(x)` fits a new scaler on whatever split it is built
for: `EEG(train=False)` scales the test rows with their own statistics. The construction
decides the split (a split string or path, `train=False`), so it is judged where it is made.
A fit the construction does not reach (`if scaler is None:` with the training scaler handed
in, `if train:`) is no fit of that object; a fit on data the file names as the training split
is none either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.call_guards import call_reaches
from auditor.analysis.fitted_data import STATELESS_TRANSFORMERS, bind_arguments, fit_sites
from auditor.analysis.result_use import names_read
from auditor.analysis.splits import EVAL_SPLITS

# Keywords whose literal False builds the evaluation part (`MyDataset(train=False)`): the
# validation or the test rows, either of which must not shape the preprocessing.
_TRAINING_FLAGS = {"train", "is_train", "training", "is_training", "train_mode"}


@dataclass
class EvaluationConstruction:
    site: object  # the CallSite building the object
    fit: cst.Call  # the fit in the constructor it reaches (where TRN201 points: the fit call)
    transformer: str
    split: str  # "val", "test", or "evaluation" for a bare `train=False`
    argument: str  # the argument that says so, as written


def evaluation_constructions(prog) -> Iterator[EvaluationConstruction]:
    model = prog.model
    fits: dict = {}  # class name -> (__init__ info, [(fit node, transformer)])
    for site, transformer, data in fit_sites(prog):
        info = model.info(site.function)
        if transformer in STATELESS_TRANSFORMERS or info is None or info.name != "__init__" or info.cls is None:
            continue
        if isinstance(data, cst.Name) and data.value in info.params:
            continue  # the data is handed in: TRN201's helper path judges each call
        if prog.splits.split_of(data, site.function) is not None:
            continue  # named as a split inside the class: judged where it is fitted
        if _in_loop(model, site.node, info.node):
            continue  # one fit per recording or trial: each is normalised by itself
        fits.setdefault(info.cls.name, (info, []))[1].append((site.node, transformer))
    if not fits:
        return
    for site in model.calls:
        entry = fits.get(site.callee) if site.callee else None
        if entry is None:
            continue
        owner = model.class_of(site.function) if site.function is not None else None
        if owner is not None and owner.name == site.callee:
            continue
        info, sites = entry
        arguments = bind_arguments(info, site.node, True)
        found = _evaluation_argument(prog, info, arguments, site.function)
        if found is None:
            continue
        reached = [(node, transformer) for node, transformer in sites if call_reaches(model, info, node, arguments)]
        if reached:
            yield EvaluationConstruction(site, reached[0][0], reached[0][1], found[0], found[1])


def _in_loop(model, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
    for ancestor in model.ancestors(node):
        if ancestor is function:
            return False
        if isinstance(ancestor, (cst.For, cst.While, cst.ListComp, cst.GeneratorExp, cst.DictComp)):
            return True
    return False


def _evaluation_argument(prog, info, arguments: dict, function) -> Optional[tuple]:
    """(split, argument text) when an argument the constructor reads selects evaluation data."""
    read = names_read(info.node.body)
    for param, value in arguments.items():
        if param not in info.params or param not in read:
            continue
        if param in _TRAINING_FLAGS and isinstance(value, cst.Name) and value.value == "False":
            return "evaluation", f"{param}=False"
        split = prog.splits.split_of(value, function)
        if split in EVAL_SPLITS:
            return split, prog.model.code(value)
    return None
