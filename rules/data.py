"""TRN2xx: data and leakage."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import EVAL_SPLITS, MIXED, name_tokens, split_of_name
from auditor.findings import Severity
from auditor.fixes.builders import no_shuffle_fix
from auditor.rule import Rule
from auditor.analysis.flow import evaluate
from auditor.speed import mentions_any
from rules._helpers import argument, final_names, is_true, keyword, program, shorten
from rules._queries import string_value

DATALOADER = "torch.utils.data.DataLoader"
_DATALOADER_WORDS = final_names(DATALOADER)
RANDOM_SAMPLERS = (
    "torch.utils.data.RandomSampler",
    "torch.utils.data.SubsetRandomSampler",
    "torch.utils.data.WeightedRandomSampler",
)


class ShuffledEvalLoader(Rule):
    code = "TRN203"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
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
        # Both kinds of finding need a DataLoader call of this file (a helper's own call, for
        # `make_loader(val_ds, shuffle=True)`): a file that never names DataLoader has none.
        if not mentions_any(ctx.source.text, _DATALOADER_WORDS):
            return
        prog = program(ctx)
        model = ctx.model
        for site in model.calls:
            if matches(site.qualname, DATALOADER):
                self._check_loader(ctx, prog, site)
            elif site.qualname is None and site.callee is not None:
                self._check_helper(ctx, prog, site)

    def _check_loader(self, ctx, prog, site) -> None:
        states = prog.flow.states_at(site.node) or [None]
        for state in states:
            env = state.env_dict if state is not None else None
            how = self._shuffling(site.node, ctx.model, site.function, state)
            if how is None:
                continue
            split, evidence = self._split(site.node, prog, site.function, env)
            if split not in EVAL_SPLITS:
                continue
            ctx.report(site.node, f"DataLoader over {evidence} ({split} data) {how}; evaluation data "
                                  f"should be read in a fixed order: use shuffle=False",
                       fix=no_shuffle_fix(ctx, site.node))
            return

    def _check_helper(self, ctx, prog, site) -> None:
        """`make_loader(val_ds, shuffle=True)` where the helper hands `shuffle` to a DataLoader."""
        resolved = prog.flow.resolve(site)
        if resolved is None:
            return
        info = ctx.model.function_info[resolved[0]]
        forwarded = _shuffle_parameter(ctx.model, info)
        if forwarded is None:
            return
        param, data_param = forwarded
        args = _bind_arguments(info, site.node, resolved[1])
        value = args.get(param)
        if value is None and param in info.defaults:
            return  # a default is the helper's own business: its DataLoader call is checked there
        if not is_true(value):
            return
        data = args.get(data_param) if data_param else None
        split = prog.splits.split_of(data, site.function) if data is not None else None
        target = ctx.model.parent(site.node)
        if split is None and isinstance(target, cst.Assign):
            split = split_of_name(dotted_name(target.targets[0].target))
        if split in EVAL_SPLITS:
            shown = ctx.model.code(data) if data is not None else "the data"
            ctx.report(site.node, f"`{info.name}()` builds a DataLoader over {shown} ({split} data) with "
                                  f"shuffle=True; evaluation data should be read in a fixed order: pass shuffle=False",
                       fix=no_shuffle_fix(ctx, site.node, positional_index=None))

    @staticmethod
    def _shuffling(call: cst.Call, model, function, state=None) -> Optional[str]:
        shuffle = argument(call, "shuffle", 2)
        if is_true(shuffle) or (shuffle is not None and state is not None and evaluate(shuffle, state) is True):
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
    def _split(call: cst.Call, prog, function, env) -> tuple[Optional[str], str]:
        model = prog.model
        sampler = keyword(call, "sampler")
        if sampler is not None and isinstance(sampler.value, cst.Call) and sampler.value.args:
            indices = sampler.value.args[0].value
            split = prog.splits.split_of(indices, function, env)
            if split in EVAL_SPLITS:
                return split, f"`{model.code(indices)}`"
        # The data itself is the better witness; the loader's own name comes second.
        dataset = argument(call, "dataset", 0)
        if dataset is not None:
            split = prog.splits.split_of(dataset, function, env)
            if split:
                return split, f"`{shorten(model.code(dataset))}`"
        parent = model.parent(call)
        if isinstance(parent, cst.Assign):
            for target in parent.targets:
                name = dotted_name(target.target)
                if split_of_name(name):
                    return split_of_name(name), f"`{name}`"
                if isinstance(target.target, cst.Subscript):
                    split = prog.splits.split_of(target.target, function, env)
                    if split:
                        return split, f"`{model.code(target.target)}`"
        return None, ""


def _shuffle_parameter(model, info) -> Optional[tuple]:
    """(shuffle parameter, data parameter) when the helper passes a parameter as a DataLoader's shuffle."""
    for site in info.calls:
        if not matches(site.qualname, DATALOADER):
            continue
        shuffle = argument(site.node, "shuffle", 2)
        if isinstance(shuffle, cst.Name) and shuffle.value in info.params:
            data = argument(site.node, "dataset", 0)
            data_name = data.value if isinstance(data, cst.Name) and data.value in info.params else None
            return shuffle.value, data_name
    return None


def _bind_arguments(info, call: cst.Call, bound: bool) -> dict:
    params = info.positional if bound or info.cls is None else info.params
    plain = [a for a in call.args if a.keyword is None and not a.star]
    args = {p: a.value for p, a in zip(params, plain)}
    for a in call.args:
        if a.keyword is not None:
            args[a.keyword.value] = a.value
    return args


def _dict_sets_shuffle(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Dict):
        for element in node.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) == "shuffle" \
                    and is_true(element.value):
                return True
    if isinstance(node, cst.Call) and dotted_name(node.func) == "dict":
        return is_true(argument(node, "shuffle", 99))
    return False




FIT_METHODS = ("fit", "fit_transform", "partial_fit")
SPLITTERS = ("train_test_split", "random_split")


def _fit_sites(prog):
    """(site, transformer, data expression) for every `.fit`-like call on a scikit-learn transformer."""
    for site in prog.model.calls:
        if site.method not in FIT_METHODS or site.receiver is None:
            continue
        transformer = prog.roles.transformer_evidence(site.receiver, site.function)
        data = argument(site.node, "X", 0)
        if transformer and data is not None:
            yield site, transformer, data


class PreprocessorFitOnTestData(Rule):
    code = "TRN201"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "preprocessor-fit-on-test-data"
    severity = Severity.ERROR
    summary = "A scikit-learn transformer is fitted on validation or test data."
    what = """
        Flags `fit`, `fit_transform` and `partial_fit` of scalers, encoders, imputers, PCA,
        vectorizers and pipelines when the data is a validation/test split (from its name, the
        position of a `train_test_split`/`random_split` result, a loop over the splits) or
        mixes training and evaluation rows (`np.concatenate([X_train, X_test])`). A helper
        that fits whatever it is given is flagged where it is called with test data.
        """
    why = """
        The transformer's statistics (means, vocabularies, components, imputed values) then
        come from the data the model is judged on: the evaluation leaks into preprocessing
        and the reported scores are optimistic.
        """
    instead = "Fit on the training split only, then `transform` the validation and test data with it."
    bad_examples = (
        """
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler()
        X_train = scaler.fit_transform(X_train)
        X_test = scaler.fit_transform(X_test)
        """,
    )
    good_examples = (
        """
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler()
        X_train = scaler.fit_transform(X_train)
        X_test = scaler.transform(X_test)
        """,
    )
    needs_imports = ("sklearn",)

    def check(self, ctx) -> None:
        prog = program(ctx)
        fitting_params: dict = {}
        for site, transformer, data in _fit_sites(prog):
            info = ctx.model.info(site.function)
            if isinstance(data, cst.Name) and info is not None and data.value in info.params:
                fitting_params[info.node] = (info, data.value, transformer)
            states = prog.flow.states_at(site.node) or [None]
            for state in states:
                split = prog.splits.split_of(data, site.function, state.env_dict if state else None)
                if split in EVAL_SPLITS or split == MIXED:
                    what = "mixes training and evaluation data" if split == MIXED else f"is {split} data"
                    ctx.report(site.node, f"{transformer} is fitted on `{shorten(ctx.model.code(data))}`, which "
                                          f"{what}; fit it on the training split only and only `transform` "
                                          f"the rest")
                    break
        if not fitting_params:
            return
        for site in ctx.model.calls:
            resolved = prog.flow.resolve(site) if site.qualname is None else None
            if resolved is None or resolved[0] not in fitting_params:
                continue
            info, param, transformer = fitting_params[resolved[0]]
            value = _bind_arguments(info, site.node, resolved[1]).get(param)
            for state in prog.flow.states_at(site.node) or [None]:
                split = prog.splits.split_of(value, site.function, state.env_dict if state else None) \
                    if value is not None else None
                if split in EVAL_SPLITS or split == MIXED:
                    ctx.report(site.node, f"`{info.name}()` fits a {transformer} on its `{param}` argument, "
                                          f"here `{shorten(ctx.model.code(value))}` ({split} data); fit on "
                                          f"the training split only")
                    break


class PreprocessorFitBeforeSplit(Rule):
    code = "TRN202"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "preprocessor-fit-before-split"
    severity = Severity.ERROR
    summary = "A transformer is fitted on the whole dataset before it is split."
    what = """
        Flags a `fit`/`fit_transform` of a scikit-learn transformer on data that is later
        split into train/validation/test (`train_test_split`, `random_split`, a K-fold
        splitter) in the same scope, directly or through the transformed result.
        """
    why = """
        Statistics computed on all rows include the rows that become the test set: the
        evaluation has seen its own data through the preprocessing, and scores are optimistic.
        """
    instead = "Split first; fit the transformer on the training part (or put it in a Pipeline fitted per fold)."
    bad_examples = (
        """
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X = StandardScaler().fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
        """,
    )
    good_examples = (
        """
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        """,
    )
    needs_imports = ("sklearn",)

    def check(self, ctx) -> None:
        prog = program(ctx)
        for site, transformer, data in _fit_sites(prog):
            name = dotted_name(data)
            if name is None or prog.splits.split_of(data, site.function) is not None:
                continue
            calls = ctx.model.calls_in(site.function)
            after = calls[calls.index(site) + 1:] if site in calls else []
            derived = {name} | self._derived_names(ctx.model, site, after, name)
            for later in after:
                if not self._is_split(later):
                    continue
                used = [dotted_name(a.value) for a in later.node.args if a.keyword is None]
                hit = next((u for u in used if u in derived), None)
                if hit:
                    ctx.report(site.node, f"{transformer} is fitted on `{name}` before `{name}` is split "
                                          f"({later.callee}() below): the test rows shape the preprocessing; "
                                          f"split first and fit on the training part only")
                    break

    @staticmethod
    def _is_split(site) -> bool:
        last = (site.callee or "").rsplit(".", 1)[-1]
        return last in SPLITTERS or (site.method == "split" and site.receiver is not None
                                     and "fold" in (ctx_name(site.receiver) or "").lower())

    @staticmethod
    def _derived_names(model, site, after, name: str) -> set:
        """Names bound to the fitted result or to a transform of the same data."""
        found = set()
        statement = site.statement
        if isinstance(statement, cst.Assign):
            found |= {dotted_name(t.target) for t in statement.targets} - {None}
        for later in after:
            if later.method in ("transform", "fit_transform") and later.node.args and \
                    dotted_name(later.node.args[0].value) == name and isinstance(later.statement, cst.Assign):
                found |= {dotted_name(t.target) for t in later.statement.targets} - {None}
        return found


def ctx_name(node) -> Optional[str]:
    if isinstance(node, cst.Call):
        return dotted_name(node.func)
    return dotted_name(node)


class TestDataInTrainingLoop(Rule):
    code = "TRN204"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "test-data-in-training-loop"
    severity = Severity.ERROR
    summary = "The test split is evaluated inside the training loop."
    what = """
        Flags an evaluation of test data (a forward pass on it, or an evaluate-like function
        called with it) inside a loop that trains (backward/optimizer step, directly or in a
        helper it calls). Validation data is what belongs there; the test split is scored
        once, after training.
        """
    why = """
        Looking at test scores during training turns the test set into a validation set:
        every decision made on it (early stopping, picking the best epoch, tuning) fits the
        test data, and the final test number is no longer an unbiased estimate.
        """
    instead = "Evaluate on a validation split inside the loop; score the test split once, after training."
    bad_examples = (
        """
        import torch

        def fit(model, opt, train_loader, test_loader, evaluate):
            for epoch in range(10):
                for x, y in train_loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                test_acc = evaluate(model, test_loader)
        """,
    )
    good_examples = (
        """
        import torch

        def fit(model, opt, train_loader, val_loader, test_loader, evaluate):
            for epoch in range(10):
                for x, y in train_loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                val_acc = evaluate(model, val_loader)
            test_acc = evaluate(model, test_loader)
        """,
    )

    def check(self, ctx) -> None:
        prog = program(ctx)
        training_loops = self._training_loops(prog)
        if not training_loops:
            return
        reported = set()
        forwards = {f.site.node: f for f in prog.forwards()}
        for site in ctx.model.calls:
            loops = prog.loops_of(site.node)
            if not any(loop in training_loops for loop in loops) or site.node in reported:
                continue
            evidence = None
            for state in prog.flow.states_at(site.node):
                forward = forwards.get(site.node)
                if forward is not None:
                    found = prog.eval_evidence(forward, state)
                    if found and "(test data)" in found:
                        evidence = f"`{forward.key}` is evaluated {found}"
                        break
                elif self._evaluates(prog, site):
                    data = prog.test_split_of_call(site, state)
                    if data:
                        evidence = f"`{site.callee}()` evaluates `{data}` (test data)"
                        break
            if evidence:
                reported.add(site.node)
                ctx.report(site.node, f"{evidence} inside the training loop: the test split then guides "
                                      f"training decisions; evaluate on validation data here and score the "
                                      f"test split once after training")

    @staticmethod
    def _evaluates(prog, site) -> bool:
        resolved = prog.flow.resolve(site) if site.qualname is None else None
        if resolved is not None:
            info = prog.model.function_info[resolved[0]]
            return prog.function_evaluates(info) or (
                info.name == "__call__" and info.cls is not None and
                not any(prog.is_backward(s) for s in info.calls) and
                any(f.site.function is info.node for f in prog.forwards()))
        if site.qualname is not None or site.callee is None:
            return False
        from auditor.analysis.program import is_eval_name

        return is_eval_name(site.callee.rsplit(".", 1)[-1])

    @staticmethod
    def _training_loops(prog) -> set:
        trains = set()
        helpers: dict = {}  # function -> whether it trains: many calls resolve to the same few
        for site in prog.model.calls:
            if prog.is_backward(site) or prog.is_step(site) or _calls_trainer(prog, site, helpers):
                trains.update(prog.loops_of(site.node))
        return trains


def _calls_trainer(prog, site, helpers: dict) -> bool:
    """A call of a helper that trains (`train_one_epoch(...)`); `helpers` remembers the answer
    for each resolved function."""
    resolved = prog.flow.resolve(site) if site.qualname is None else None
    if resolved is not None:
        function = resolved[0]
        trains = helpers.get(function)
        if trains is None:
            info = prog.model.function_info[function]
            trains = helpers[function] = any(prog.is_backward(s) or prog.is_step(s) for s in info.calls)
        return trains
    if site.qualname is not None:
        return False
    callee = site.callee or ""
    if "." in callee:
        return False
    tokens = name_tokens(callee)
    return bool(tokens) and tokens[0] == "train"


DATA_RULES = [PreprocessorFitOnTestData(), PreprocessorFitBeforeSplit(), ShuffledEvalLoader(),
              TestDataInTrainingLoop()]
