"""Dataset objects whose constructor fits a transformer on the rows it loads, built for
validation or test data, and loaders that fit on the file they are asked for (TRN201).

`class EEG(Dataset): def __init__(self, train): x = np.load("train/" if train else "test/");
self.x = StandardScaler().fit_transform(x)` fits a new scaler on whatever split it is built
for: `EEG(train=False)` scales the test rows with their own statistics. The construction
decides the split (a split string or path, `train=False`), so it is judged where it is made;
so is `load("data/test.csv")` of a function that fits a scaler on the file it reads.
A fit the construction does not reach (`if scaler is None:` with the training scaler handed
in, `if train:`) is no fit of that object; a fit on data the file names as the training split
is none either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.call_guards import call_reaches
from auditor.analysis.fitted_data import CATEGORY_ENCODERS, STATELESS_TRANSFORMERS, fit_sites
from auditor.analysis.model import bind_arguments
from auditor.analysis.result_use import names_read, statements
from auditor.analysis.splits import EVAL_SPLITS, split_of_string

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
        if transformer in STATELESS_TRANSFORMERS or transformer in CATEGORY_ENCODERS or info is None \
                or (info.cls is not None and info.name != "__init__"):
            continue  # encoders fitted inside a helper learn a label list (`fit(range(max(y) + 1))`)
        if isinstance(data, cst.Name) and data.value in info.params:
            continue  # the data is handed in: TRN201's helper path judges each call
        if prog.splits.split_of(data, site.function) is not None:
            continue  # named as a split inside the class: judged where it is fitted
        if _in_loop(model, site.node, info.node):
            continue  # one fit per recording or trial: each is normalised by itself
        fits.setdefault(info.node, (info, []))[1].append((site.node, transformer, _sources(info, data)))
    if not fits:
        return
    constructors = {info.cls.name: node for node, (info, _) in fits.items() if info.cls is not None}
    for site in model.calls:
        entry, bound = _callee(prog, site, fits, constructors)
        if entry is None:
            continue
        info, sites = entry
        if site.function is info.node:
            continue  # a recursive call
        arguments = bind_arguments(info, site.node, bound)
        for node, transformer, sources in sites:
            found = _evaluation_argument(prog, info, arguments, site.function, sources)
            if found is not None and call_reaches(model, info, node, arguments):
                yield EvaluationConstruction(site, node, transformer, found[0], found[1])
                break


def _callee(prog, site, fits: dict, constructors: dict) -> tuple:
    """(fits entry, bound?) for a call of a fitting function of the file, or a construction of
    a class whose `__init__` fits, made outside that class."""
    if site.callee in constructors:
        owner = prog.model.class_of(site.function) if site.function is not None else None
        if owner is not None and owner.name == site.callee:
            return None, False
        return fits[constructors[site.callee]], True
    resolved = prog.flow.resolve(site) if site.qualname is None else None
    if resolved is None or resolved[0] not in fits:
        return None, False
    return fits[resolved[0]], resolved[1]


def _split_of_path(value: cst.BaseExpression) -> Optional[str]:
    """The split a file path names in one of its parts (`"data/test.csv"`, `"eeg/valid/"`)."""
    if not isinstance(value, cst.SimpleString):
        return None
    try:
        text = value.evaluated_value
    except (SyntaxError, ValueError):
        return None
    if not isinstance(text, str) or ("/" not in text and "." not in text):
        return None
    parts = [part.split(".")[0] for part in text.replace("\\", "/").split("/") if part]
    found = {split_of_string(part) for part in parts} - {None}
    return found.pop() if len(found) == 1 else None


def _in_loop(model, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
    for ancestor in model.ancestors(node):
        if ancestor is function:
            return False
        if isinstance(ancestor, (cst.For, cst.While, cst.ListComp, cst.GeneratorExp, cst.DictComp)):
            return True
    return False


def _sources(info, data: cst.BaseExpression) -> set:
    """The names the fitted data is computed from, through the function's assignments
    (`x = np.load(path + "x.npy")`, `path = "train/" if train else "test/"`)."""
    found = set(names_read(data))
    assigns = [st for st in statements(info.node.body) if isinstance(st, cst.Assign)]
    for _ in range(4):
        before = len(found)
        for statement in assigns:
            targets = {n for t in statement.targets for n in names_read(t.target)}
            if targets & found:
                found |= set(names_read(statement.value))
        if len(found) == before:
            break
    return found


def _evaluation_argument(prog, info, arguments: dict, function, sources: set) -> Optional[tuple]:
    """(split, argument text) when an argument the fitted data is computed from selects
    evaluation data."""
    for param, value in arguments.items():
        if param not in info.params or param not in sources:
            continue
        if param in _TRAINING_FLAGS and isinstance(value, cst.Name) and value.value == "False":
            return "evaluation", f"{param}=False"
        split = _split_of_path(value) or prog.splits.split_of(value, function)
        if split in EVAL_SPLITS:
            return split, prog.model.code(value)
    return None
