"""Top-level functions that fit a transformer on (columns of) one of their parameters, for the
project summary: a caller in another module that hands them evaluation data, or the whole of
data it has already split, makes them fit on evaluation rows (TRN201). A fit under a branch
(`if fit:`) is left out: which calls reach it is decided by arguments this module cannot see."""

from __future__ import annotations

import libcst as cst

from auditor.analysis.fitted_data import CATEGORY_ENCODERS, STATELESS_TRANSFORMERS, fit_sites
from auditor.analysis.refit_whole import transforms_evaluation, whole_data_name


def fitting_parameters(prog) -> dict:
    """{function: (transformer, parameter, its position or None, transforms evaluation data)}."""
    model = prog.model
    found: dict = {}
    for site, transformer, data in fit_sites(prog):
        if transformer in STATELESS_TRANSFORMERS or transformer in CATEGORY_ENCODERS:
            continue
        info = model.info(site.function)
        if info is None or info.parent is not None or info.cls is not None:
            continue
        parameter = whole_data_name(data)
        if parameter is None or parameter not in info.params or _branched(model, site.node, info.node):
            continue
        positional = list(info.positional)
        index = positional.index(parameter) if parameter in positional else None
        found.setdefault(info.name, (transformer, parameter, index,
                                     transforms_evaluation(prog, site, site.function)))
    return found


def _branched(model, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
    for ancestor in model.ancestors(node):
        if ancestor is function:
            return False
        if isinstance(ancestor, (cst.If, cst.IfExp)):
            return True
    return False
