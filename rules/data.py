"""TRN2xx: data and leakage."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import EVAL_SPLITS, split_of_name, split_of_string
from auditor.findings import Severity
from auditor.rule import Rule
from rules._helpers import argument, is_true, keyword

DATALOADER = "torch.utils.data.DataLoader"
RANDOM_SAMPLERS = (
    "torch.utils.data.RandomSampler",
    "torch.utils.data.SubsetRandomSampler",
    "torch.utils.data.WeightedRandomSampler",
)


class ShuffledEvalLoader(Rule):
    code = "TRN203"
    name = "shuffled-eval-loader"
    severity = Severity.WARNING
    summary = "A DataLoader over validation or test data shuffles it."
    what = """
        Flags a `DataLoader` whose data is a validation or test split (read from the
        dataset's or the loader's name, e.g. `val_ds`, `X_te`, `loaders["dev"]`) and that
        is built with `shuffle=True` (by keyword, as the third positional argument, or
        through a `**kwargs` dict) or with a random sampler.
        """
    why = """
        Shuffling evaluation data buys nothing and costs reproducibility: per-batch
        metrics, saved predictions and anything aligned with the dataset's order
        (ids, ensembling, error analysis) no longer line up from run to run.
        """
    instead = "Build evaluation loaders with `shuffle=False` (the default) and a sequential sampler."
    bad_examples = (
        """
        from torch.utils.data import DataLoader

        val_loader = DataLoader(val_ds, batch_size=64, shuffle=True)
        """,
    )
    good_examples = (
        """
        from torch.utils.data import DataLoader

        train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
        val_loader = DataLoader(val_ds, batch_size=64, shuffle=False)
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        for site in model.calls:
            if not matches(site.qualname, DATALOADER):
                continue
            how = self._shuffling(site.node, model, site.function)
            if how is None:
                continue
            split, evidence = self._split(site.node, model)
            if split not in EVAL_SPLITS:
                continue
            ctx.report(site.node, f"DataLoader over {evidence} ({split} data) {how}; evaluation data "
                                  f"should be read in a fixed order: use shuffle=False")

    @staticmethod
    def _shuffling(call: cst.Call, model, function) -> Optional[str]:
        shuffle = argument(call, "shuffle", 2)
        if is_true(shuffle):
            return "shuffles (shuffle=True)"
        sampler = keyword(call, "sampler")
        if sampler is not None:
            value = sampler.value
            if isinstance(value, cst.Name):
                bound = model.values_of(value.value, function)
                value = bound[-1] if bound else value
            if isinstance(value, cst.Call) and matches(model.qualify_call(value), *RANDOM_SAMPLERS):
                return f"draws batches through a random sampler ({dotted_name(value.func)})"
        for arg in call.args:
            if arg.star == "**" and isinstance(arg.value, cst.Name):
                for bound in model.values_of(arg.value.value, function):
                    if _dict_sets_shuffle(bound):
                        return f"shuffles (shuffle=True from **{arg.value.value})"
        return None

    @staticmethod
    def _split(call: cst.Call, model) -> tuple[Optional[str], str]:
        dataset = argument(call, "dataset", 0)
        if dataset is not None:
            name = dotted_name(dataset)
            split = split_of_name(name)
            if split:
                return split, f"`{name}`"
        parent = model.parent(call)
        if isinstance(parent, cst.Assign):
            for target in parent.targets:
                name = dotted_name(target.target)
                if split_of_name(name):
                    return split_of_name(name), f"`{name}`"
                if isinstance(target.target, cst.Subscript):
                    key = _string_key(target.target)
                    if key and split_of_string(key):
                        return split_of_string(key), f"`{ctx_code(target.target)}`"
        return None, ""


def _string_key(node: cst.Subscript) -> Optional[str]:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        value = node.slice[0].slice.value
        if isinstance(value, cst.SimpleString):
            return value.evaluated_value if isinstance(value.evaluated_value, str) else None
    return None


def ctx_code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _dict_sets_shuffle(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Dict):
        for element in node.elements:
            if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString) \
                    and element.key.evaluated_value == "shuffle" and is_true(element.value):
                return True
    if isinstance(node, cst.Call) and dotted_name(node.func) == "dict":
        return is_true(argument(node, "shuffle", 99))
    return False


DATA_RULES = [ShuffledEvalLoader()]
