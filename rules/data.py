"""TRN2xx: data and leakage."""

from __future__ import annotations

import re
import weakref
from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.call_guards import call_reaches
from auditor.analysis.constructed_fits import evaluation_constructions
from auditor.analysis.deciding_callees import deciding_call_reader, returned_history_decision
from auditor.analysis.eval_statistics import eval_statistics
from auditor.analysis.handed import callers_handing_test
from auditor.analysis.fitted_data import (CATEGORY_ENCODERS, STATELESS_TRANSFORMERS, FittedSource, all_sources,
                                          bind_arguments, fit_sites, fits_a_part, follow_source, methods_of)
from auditor.analysis.refit_whole import refit_after_split, split_before, transforms_evaluation, whole_data_name
from auditor.analysis.masked_scores import masked_test_scores, returned_test_scores
from auditor.analysis.file_round_trips import WRITE_WORDS
from auditor.analysis.leakage import follow_to_split, row_range
from auditor.analysis.names import dotted_name, matches
from auditor.analysis.program import Forward
from auditor.analysis.evaluating_functions import EVALUATES, SWITCHED
from auditor.analysis.project_names import any_shuffling_class, project_defines, project_entry, shuffles_by_default
from auditor.analysis.result_use import (decision_in, follow, improvement_guard, names_assigned, names_read,
                                          seeds_of_block, statements, threaded_best)
from auditor.analysis.split_alias import position_holds_test, test_alias
from auditor.analysis.split_params import split_by_arguments
from auditor.analysis.trainer_selection import framework_selections, framework_trains
from auditor.analysis.splits import EVAL_SPLITS, MIXED, TEST, TRAIN, VAL, declared_split_of_call, name_tokens, split_of_name
from auditor.findings import Severity
from auditor.fixes.builders import no_shuffle_fix
from auditor.rule import Rule
from auditor.analysis.flow import State, evaluate
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
    # Info: an average over the whole loader is the same in any order; what breaks is
    # reproducibility and anything aligned with the dataset's order (hygiene).
    severity = Severity.INFO
    summary = "A DataLoader over validation or test data shuffles it."
    what = """
        Flags a `DataLoader` whose data is a validation or test split (read from the
        dataset's or the loader's name, e.g. `val_ds`, `X_te`, `loaders["dev"]`) and that
        is built with `shuffle=True` (by keyword, as the third positional argument, or
        through a `**kwargs` dict) or with a random sampler. The split is read from what the
        data is as well as from names: `CIFAR10(..., train=False)`, `load_dataset(...,
        split="test")`, `get_data(flag="TEST")`, `Subset(ds, test_idx)`, the second result of
        `train_test_split`/`random_split` whatever it is called.

        Across boundaries: a helper that hands its `shuffle` parameter to a DataLoader is
        flagged where it is called with evaluation data and `shuffle=True`; a parameter holds
        evaluation data when every caller in the file passes some. A helper whose `shuffle`
        parameter defaults to True and goes to the DataLoader of a validation/test split
        (`def get_dataloader(bs, shuffle=True)` building `val_loader` with `shuffle=shuffle`)
        is flagged at that DataLoader, unless every call of the helper in the file passes
        something else. A project's own loader class
        whose constructor takes `shuffle=True` by default and reads it (defined in the same
        file, or in another module of the run) is flagged where it is built over evaluation data
        without `shuffle=False` (no fix: the class is the project's); so is a call of another
        module's loader builder whose `shuffle` parameter defaults to True and goes to its
        DataLoader (`build_dataloader(test_set, 1, 2)` with `def build_dataloader(dataset,
        samples_per_gpu, workers_per_gpu, shuffle=True)`).

        Silent: a loader only ever used as `next(iter(loader))` (a random batch drawn to look at,
        where the shuffle is the point). It cannot see a split chosen by a runtime value it
        cannot read (`split=args.split`), a library's loader class other than torch's, a flag
        passed by position to a project class, nor a helper in another module that is handed
        `shuffle=True` explicitly.

        Severity info: a metric averaged over the whole loader is the same in any order.
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
        project_loaders = any_shuffling_class(ctx.project)
        if not mentions_any(ctx.source.text, _DATALOADER_WORDS) and not project_loaders \
                and "shuffle" not in ctx.source.text:
            return
        prog = program(ctx)
        model = ctx.model
        for site in model.calls:
            if matches(site.qualname, DATALOADER):
                self._check_loader(ctx, prog, site)
            elif site.qualname is None and site.callee is not None:
                self._check_helper(ctx, prog, site)
            elif project_loaders and site.qualname is not None and \
                    project_defines(ctx.project, ctx.module_name, site.qualname, "shuffling_classes"):
                self._check_default_shuffle(ctx, prog, site, site.qualname.rsplit(".", 1)[-1])

    def _check_default_shuffle(self, ctx, prog, site, name: str) -> None:
        """`DataLoader(vocab, src_insts=test_insts)` where `DataLoader` is the project's own class
        whose constructor shuffles unless `shuffle=False` is passed."""
        call = site.node
        given = keyword(call, "shuffle")
        if given is not None and not is_true(given.value):
            return
        if given is None and any(isinstance(a.value, cst.Name) and a.value.value in ("True", "False")
                                 for a in call.args if a.keyword is None):
            return  # a flag passed by position may be the shuffle: cannot tell
        for state in prog.flow.states_at(call) or [None]:
            env = state.env_dict if state is not None else None
            split, evidence = self._split(call, prog, site.function, env)
            if split not in EVAL_SPLITS:
                continue
            if _only_sampled(ctx.model, call):
                return
            how = "with shuffle=True" if given is not None else "without shuffle=False"
            kind = "class" if name[:1].isupper() else "loader builder"
            ctx.report(call, f"`{name}(...)` over {evidence} ({split} data) is built {how}, and this "
                             f"project {kind} shuffles by default; evaluation data should be read in a "
                             f"fixed order: pass shuffle=False")
            return

    def _check_loader(self, ctx, prog, site) -> None:
        states = prog.flow.states_at(site.node) or [None]
        for state in states:
            env = state.env_dict if state is not None else None
            how = self._shuffling(site.node, ctx.model, site.function, state) or \
                _shuffled_by_default(ctx.model, prog, site)
            if how is None:
                continue
            split, evidence = self._split(site.node, prog, site.function, env)
            if split not in EVAL_SPLITS:
                continue
            if _only_sampled(ctx.model, site.node):
                return  # `next(iter(val_loader))` draws a random batch to show: the shuffle is the point
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
            if info.name == "__init__" and info.cls is not None and shuffles_by_default(info.cls):
                self._check_default_shuffle(ctx, prog, site, info.cls.name)
            return
        param, data_param = forwarded
        args = bind_arguments(info, site.node, resolved[1])
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


def _is_draw(model, node: cst.CSTNode) -> bool:
    """`next(iter(node))`: one batch drawn, not the data read through."""
    arg = model.parent(node)
    call = model.parent(arg) if isinstance(arg, cst.Arg) else None
    if not (isinstance(call, cst.Call) and dotted_name(call.func) == "iter"):
        return False
    outer_arg = model.parent(call)
    outer = model.parent(outer_arg) if isinstance(outer_arg, cst.Arg) else None
    return isinstance(outer, cst.Call) and dotted_name(outer.func) == "next"


def _only_sampled(model, loader: cst.Call) -> bool:
    """The loader is only ever used as `next(iter(loader))` (a random sample grid)."""
    if _is_draw(model, loader):
        return True
    parent = model.parent(loader)
    if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
        return False
    name = dotted_name(parent.targets[0].target)
    if name is None:
        return False
    target = parent.targets[0].target
    uses = [node for node in model.parents if type(node) in (cst.Name, cst.Attribute) and node is not target
            and dotted_name(node) == name and not isinstance(model.parent(node), cst.Attribute)]
    return bool(uses) and all(_is_draw(model, node) for node in uses)


def _shuffled_by_default(model, prog, site) -> Optional[str]:
    """`DataLoader(val_dataset, shuffle=shuffle)` inside `def get_dataloader(bs, shuffle=True)`:
    the parameter's default shuffles, unless every call of the helper in this file passes a
    value that is not True (callers in other modules are not seen: the default is what the
    helper promises them)."""
    shuffle = argument(site.node, "shuffle", 2)
    function = site.function
    info = model.function_info.get(function) if function is not None else None
    if not isinstance(shuffle, cst.Name) or info is None or not is_true(info.defaults.get(shuffle.value)):
        return None
    if model.values_of(shuffle.value, function):
        return None  # `shuffle = shuffle and split == "train"`: recomputed before the loader
    passed = []  # what each call of the helper in this file gives the parameter
    for call in model.calls:
        resolved = prog.flow.resolve(call) if call.qualname is None and call.callee is not None else None
        if resolved is not None and resolved[0] is function:
            passed.append(bind_arguments(info, call.node, resolved[1]).get(shuffle.value))
    if passed and all(value is not None and not is_true(value) for value in passed):
        return None  # every call of the file turns it off
    return f"shuffles (its `{shuffle.value}` parameter defaults to True)"


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


def _dict_sets_shuffle(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Dict):
        for element in node.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) == "shuffle" \
                    and is_true(element.value):
                return True
    if isinstance(node, cst.Call) and dotted_name(node.func) == "dict":
        return is_true(argument(node, "shuffle", 99))
    return False


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

        Statistics taken by hand count too, when they rescale data that is stored as data:
        `X_test = (X_test - X_test.mean(0)) / X_test.std(0)`; `mean = np.mean(np.concatenate(
        [train, test]))`, then `train = (train - mean) / sd`; a helper that standardises its
        argument with its own statistics (`def standardize(x): return (x - x.mean(0)) /
        x.std(0)`) called with test data. Per-sample normalisation (`axis=1`) and deviations
        computed for a metric (`resid = y_test - y_test.mean()`) are not fits.

        Across boundaries: a helper's parameter is followed to the arguments its callers in
        the same file pass (a call that turns off the branch the fit is on, `if fit:` or `if
        scaler is None:`, does not fit). A dataset class whose constructor fits a scaler on the
        rows it loads is flagged (at that fit) when it is built for evaluation data
        (`EEG(train=False)`, `Signals(root, "test")`), and so is a loader function asked for an
        evaluation file (`load("data/test.csv")`), unless the fit is per trial or on the
        training file. A function of another module of the project that fits a transformer
        on its parameter (outside any branch) is flagged at a caller that hands it evaluation
        data. Data already split and then fitted whole (`train_test_split(df["text"])` above,
        then `vectorizer.fit(df["text"])`, directly or through a helper handed `df`) mixes the
        evaluation rows in when the fitted transformer then transforms an evaluation part; a
        final refit on all rows that never transforms evaluation data, and label encoders, are
        left alone. It cannot see data whose split is decided at run time. `TSNE`, `MDS` and `SpectralEmbedding` are not preprocessors (they
        have no `transform`: they are fitted to draw a picture), and transformers that learn
        nothing from the rows (`PolynomialFeatures`, `FunctionTransformer`, `Normalizer`,
        `Binarizer`, `HashingVectorizer`) give the test rows the same features whatever they
        are fitted on. A scikit-learn class name that the file neither imports nor defines (a
        notes file that assumes the import, or `from sklearn.preprocessing import *`) is
        that class.

        Severity error: the evaluation's own statistics are in the preprocessing, the
        reported scores are wrong.
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
    # sklearn for a transformer; a split's name for statistics taken by hand.
    needs_imports = ("sklearn", "test", "val")

    def check(self, ctx) -> None:
        prog = program(ctx)
        for found in eval_statistics(prog):
            what = "mixes training and evaluation data" if found.split == MIXED else f"is {found.split} data"
            if found.helper is not None:
                ctx.report(found.node, f"`{found.helper}()` standardises its argument with statistics of its own "
                                       f"rows, here `{shorten(ctx.model.code(found.data))}`, which {what}: use "
                                       f"statistics of the training split only")
            else:
                ctx.report(found.node, f"statistics computed by hand on `{shorten(ctx.model.code(found.data))}`, "
                                       f"which {what}, standardise the data: take them from the training split "
                                       f"only and apply them to the rest")
        constructed: set = set()
        for built in evaluation_constructions(prog):
            if built.fit in constructed:
                continue  # one finding per fit, at the first construction for evaluation data
            constructed.add(built.fit)
            ctx.report(built.fit, f"{built.transformer} is fitted on the rows `{built.site.callee}` loads, and "
                                  f"`{shorten(ctx.model.code(built.site.node), 40)}` asks it for {built.split} data "
                                  f"(`{shorten(built.argument)}`): fit on the training split once and apply that "
                                  f"fit to the evaluation data")
        fitting_params: dict = {}
        fitting_sites: dict = {}  # helper -> its fit sites on a parameter
        for site, transformer, data in fit_sites(prog):
            if transformer in STATELESS_TRANSFORMERS:
                continue  # `PolynomialFeatures().fit_transform(X_test)` learns only the column count
            info = ctx.model.info(site.function)
            # The parameter the fit reads whole: `x`, or columns of it (`df["text"]`, `df.values`).
            param = whole_data_name(data)
            if param is not None and info is not None and param in info.params:
                fitting_params.setdefault(info.node, (info, param, transformer, []))[3].append(site.node)
                fitting_sites.setdefault(info.node, []).append(site)
            states = prog.flow.states_at(site.node) or [None]
            splits = set()
            for state in states:
                split = prog.splits.split_of(data, site.function, state.env_dict if state else None)
                splits.add(split)
                if split in EVAL_SPLITS or split == MIXED:
                    what = "mixes training and evaluation data" if split == MIXED else f"is {split} data"
                    ctx.report(site.node, f"{transformer} is fitted on `{shorten(ctx.model.code(data))}`, which "
                                          f"{what}; fit it on the training split only and only `transform` "
                                          f"the rest")
                    break
            else:
                # `X_tr, X_te = train_test_split(df["text"])` above, then `vec.fit(df["text"])` and
                # `vec.transform(X_te)`: the whole of the data already split, test rows included.
                whole = refit_after_split(prog, site, data, site.function) \
                    if splits == {None} and transformer not in CATEGORY_ENCODERS else None
                if whole is not None:
                    ctx.report(site.node, f"{transformer} is fitted on `{shorten(ctx.model.code(data))}`, every "
                                          f"row of the data that `{shorten(ctx.model.code(whole.node), 40)}` above "
                                          f"split, evaluation rows included, and then transforms evaluation data; "
                                          f"fit it on the training part only")
        self._imported_fitters(ctx, prog)
        if not fitting_params:
            return
        for site in ctx.model.calls:
            resolved = prog.flow.resolve(site) if site.qualname is None else None
            if resolved is None or resolved[0] not in fitting_params:
                continue
            info, param, transformer, fits = fitting_params[resolved[0]]
            arguments = bind_arguments(info, site.node, resolved[1])
            if not any(call_reaches(ctx.model, info, fit, arguments) for fit in fits):
                continue  # `prep(x_test)` with `def prep(x, fit=False): if fit: ...fit_transform(x)`
            value = arguments.get(param)
            splits = set()
            for state in prog.flow.states_at(site.node) or [None]:
                split = prog.splits.split_of(value, site.function, state.env_dict if state else None) \
                    if value is not None else None
                splits.add(split)
                if split in EVAL_SPLITS or split == MIXED:
                    ctx.report(site.node, f"`{info.name}()` fits a {transformer} on its `{param}` argument, "
                                          f"here `{shorten(ctx.model.code(value))}` ({split} data); fit on "
                                          f"the training split only")
                    break
            else:
                # `vectorize(df, x_train, x_test)` after `train_test_split(df["text"], ...)`: the helper
                # fits on the whole of the split data and transforms its evaluation part.
                whole = split_before(ctx.model, site.node, value, site.function) \
                    if value is not None and splits == {None} and transformer not in CATEGORY_ENCODERS else None
                if whole is not None and any(transforms_evaluation(prog, fit, fit.function)
                                             for fit in fitting_sites.get(info.node, ())):
                    ctx.report(site.node, f"`{info.name}()` fits a {transformer} on its `{param}` argument, here "
                                          f"`{shorten(ctx.model.code(value))}`, every row of the data that "
                                          f"`{shorten(ctx.model.code(whole.node), 40)}` above split, and "
                                          f"transforms evaluation data with it; fit on the training part only")


    @staticmethod
    def _imported_fitters(ctx, prog) -> None:
        """`get_count_vector(df, x_train, x_test)` where the function, in another module of the
        project, fits a transformer on its first parameter: the data handed to it is evaluation
        data, or the whole of data split above while the function transforms evaluation data."""
        for site in ctx.model.calls:
            if site.qualname is None:
                continue  # a function of this file: followed through its parameters above
            entry = project_entry(ctx.project, ctx.module_name, site.qualname, "fitting_parameters")
            if entry is None:
                continue
            transformer, param, index, transforms_eval = entry
            plain = [a.value for a in site.node.args if a.keyword is None and not a.star]
            value = next((a.value for a in site.node.args if a.keyword is not None and a.keyword.value == param),
                         plain[index] if index is not None and index < len(plain) else None)
            if value is None:
                continue
            name = site.qualname.rsplit(".", 1)[-1]
            split = prog.splits.split_of(value, site.function)
            if split in EVAL_SPLITS or split == MIXED:
                ctx.report(site.node, f"`{name}()` fits a {transformer} on its `{param}` argument, here "
                                      f"`{shorten(ctx.model.code(value))}` ({split} data); fit on the training "
                                      f"split only")
                continue
            whole = split_before(ctx.model, site.node, value, site.function) \
                if split is None and transforms_eval else None
            if whole is not None:
                ctx.report(site.node, f"`{name}()` fits a {transformer} on its `{param}` argument, here "
                                      f"`{shorten(ctx.model.code(value))}`, every row of the data that "
                                      f"`{shorten(ctx.model.code(whole.node), 40)}` above split, and transforms "
                                      f"evaluation data with it; fit on the training part only")


class PreprocessorFitBeforeSplit(Rule):
    code = "TRN202"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "preprocessor-fit-before-split"
    # Warning: a real leak, but for scalers the bias is usually small; it is likely wrong,
    # not certainly wrong (TRN201 is the error: statistics taken from the test rows alone).
    severity = Severity.WARNING
    summary = "A transformer is fitted on the whole dataset before it is split."
    what = """
        Flags a `fit`/`fit_transform` of a scikit-learn transformer (scalers, `PowerTransformer`,
        PCA, TF-IDF vocabularies, imputers, pipelines; darts' `Scaler`), or statistics taken by
        hand over all rows (`(X - X.mean(0)) / X.std(0)`, min/max scaling, missing values filled
        with a column's mean/median/mode: `df[c] = df[c].fillna(df[c].median())`,
        `df.fillna(df.mean(), inplace=True)`), or oversampling by imbalanced-learn
        (`X_res, y_res = SMOTE().fit_resample(X, y)`, `RandomOverSampler`, `SMOTETomek`: rows
        made from the test rows land in training; undersamplers only drop rows and are not
        flagged), on data that then reaches a split
        (`train_test_split`, `random_split`, a K-fold `.split`, a function or search that makes
        its own folds: `cross_val_score`/`cross_validate`/`cross_val_predict`/`learning_curve`,
        `GridSearchCV(...).fit`, or a slice named as evaluation data: `X_test = X[n:]`).

        The data is followed by value through the scope in source order: wrapping it
        (`pd.DataFrame(...)`, `np.asarray(...)`, `torch.tensor(...)`, `.values`, `.to_numpy()`),
        assigning columns back (`df[cols] = scaler.fit_transform(df[cols])`), appending it to a
        list (`windows.append(X[i:i + n])`) keep it; rebinding the name to other data ends it;
        a slice named as evaluation data counts through wrappers (`X_test =
        torch.from_numpy(W[n:]).float()`). `scaler.fit(X)` before `X` is split counts when the
        scaler then transforms the parts. A fit or statistics on a range of rows (`X[:n]`) is a
        fit on a part, as on a split, and is not flagged. A notebook is one scope (cells in order).

        Statistics by hand count in one expression or in steps (`mean = X.mean(0)`, ...,
        `X = (X - mean) / std`; `sc = Scaler(X.min(), X.max())`, ..., `X = sc.transform(X)`),
        as methods or functions (`np.max(np.abs(X))`), several in one statement (`mean, std =
        df[c].mean(), df[c].std()`, then `df.loc[:, c] = (df[c] - mean) / std`); a scale alone
        counts only as max-abs scaling (dividing by the largest magnitude), since `y / y.max()`
        is as often synthesis. So do functions that standardise with the statistics of the rows
        they are given (`scipy.stats.zscore`, `sklearn.preprocessing.scale`/`minmax_scale`/...,
        `df.apply(zscore)`) when their result is what is stored; not `axis=1` (each row by
        itself), `normalize` (per row), nor a z-score used only to drop outlier rows.
        Splits also count when a call hands back parts named as training and evaluation data
        (`train, val, test = split_by_ratio(data, ...)`, or a method of the data itself:
        `train, val = series.split_after(0.8)`), when a forecasting model backtests the data
        (darts' `model.historical_forecasts(series, start=0.8)`, `backtest`: it trains on the
        first windows and scores forecasts of the later ones), when evaluation rows are selected by
        an evaluation index set (`X[test_idx]`, `self.test = self._batchify(test_set)`), and
        by behaviour when rows are cut off at the bound of rows named as training data
        (`X_tr, X_ho = X[:n], X[n:]`: the other part is held out, whatever it is called); two
        cuts with neither part named say nothing (which one trains is not known).

        Across boundaries: a helper (function or method) that fits and returns the fitted data
        is flagged at the caller that splits what it returned, through helpers that return it in
        turn (`fit()` -> `prep_input()` -> `prep_numeric_cols()`); a method that leaves fitted
        data in `self.` attributes is flagged when its class calls it and then calls a method
        that splits those attributes (`__init__`: `self._normalized()`, `self._split()`), or
        data made from them that a method returns or is handed (`framed = self._windows()`,
        `self._split_data(framed)`). When the function fits data it gets itself (reads a file,
        its object's attributes) the finding is at each such fit, where the fix goes; a helper
        that fits whatever its caller hands in is flagged at that caller. A
        helper that fits on the training part it split itself, or that its caller hands a
        split's part or a range of rows (`normalize_dataset(x_train)`), is not flagged. A
        function of another module of the project that returns fitted data (`X, y =
        load_data(args)`, whose loader scales every row) counts as such a helper, read from
        that module's summary (and the fit in that module is flagged too when its module is
        checked: the callers' summaries say what they split); and a function of the file that splits the data it is handed
        (`cross_validation(model, X, y)` running `KFold(...).split(X)`) is a split, followed one
        level. It cannot see a split made inside another module, by a custom splitter, or by
        index arrays computed elsewhere, nor a fit whose data is a parameter filled in another
        module. Category
        encoders (`LabelEncoder`, `OneHotEncoder`, ...) are skipped: they learn a list, not a
        statistic; so is a `ColumnTransformer` made of them only (remainder "passthrough" or
        "drop"), and so are transformers that learn nothing from the rows (`PolynomialFeatures`,
        `FunctionTransformer`, `Normalizer`, `Binarizer`). Per-row normalisation (`axis=1`, `keepdims=True` without `axis=0`) is not a fit.
        A transformer kept in a dict or a list (`scalers[col] = MinMaxScaler()`, then
        `scalers[col].fit_transform(...)` or `sc = scalers[col]`) is that transformer.
        Fitted data written to a named file (`df.to_csv("clean.csv")`, `np.save("X.npy", X)`)
        and read back (`pd.read_csv(DIR + "/clean.csv")`, `np.load(...)`: the same file name,
        however the directory is spelled) later in the scope, by another function of the
        module or by another module of the project (a cookiecutter `build_features.py` and
        `train.py` or a notebook) that splits it is followed through the file: a data file's
        name links the modules naming it as an import does, so checking the writer alone
        reads the reader too. Model predictions stored beside the rows (`df["label"] =
        KMeans(4).fit_predict(scaled)`) do not make the rows fitted data.

        Severity warning: the test rows shaped the preprocessing (a real leak), but for most
        scalers the effect on the score is small.
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
    # Every split it follows names one of these (`train_test_split`, `cross_val_score`, ...),
    # or cuts rows off at a bound (`X_tr, X_ho = X[:n], X[n:]`).
    # A helper that only fits (`fit`, `fillna(`, `std(`) is reported when another module of
    # the project splits what it returns (split_results.py).
    needs_imports = ("split", "test", "val", "cross_val", "SearchCV", "_curve", ":]", "historical_forecasts",
                     "backtest", "fit", "fillna(", "std(") + WRITE_WORDS

    def check(self, ctx) -> None:
        prog = program(ctx)
        model = ctx.model
        sources = all_sources(prog)
        helpers = {}  # function -> what it fits, where its fitted result is returned
        stateful = {}  # method -> (what it fits, the `self.` attributes it leaves fitted data in)
        # function -> every fit in it whose data it returns or leaves in `self.`: a finding through
        # the function's callers points at these (where the fix goes), one finding per fit
        fits_in: dict = {}
        at_fits: set = set()
        source_at = {source.node: source for source in sources}
        seen: set = set()  # (split, what fitted): `zscore` on five columns, one split, one finding
        for source in sources:
            returns: list = []
            leaves: set = set()
            writes: list = []
            split = follow_source(prog, source, returns, leaves, writes)
            if split is not None and (split.node, source.what) in seen:
                continue
            reader = _split_reader(ctx, writes) if split is None and writes else None
            if reader is not None:
                ctx.report(source.node, f"{source.what} `{source.data}`, written to `{reader[0]}`, which "
                                        f"{reader[1]} reads and splits: the test rows shape the preprocessing; "
                                        f"split first and fit on the training part only")
                continue
            if split is not None:
                seen.add((split.node, source.what))
                ctx.report(source.node, f"{source.what} `{source.data}` before it is split "
                                        f"(`{shorten(model.code(split.node), 40)}` below, on `{split.data}`): the "
                                        f"test rows shape the preprocessing; split first and fit on the "
                                        f"training part only")
                continue
            if returns and source.function is not None:
                helpers.setdefault(source.function, source)
                if _fits_own_data(model, source):
                    fits_in.setdefault(source.function, []).append(source.node)
            if leaves and methods_of(model, source.function):
                stateful.setdefault(source.function, (source, leaves))
                if not returns and _fits_own_data(model, source):
                    fits_in.setdefault(source.function, []).append(source.node)
        for site in model.calls if stateful else ():
            # `__init__` calls `self._normalized()` (fits into `self.dat`), then `self._split()`.
            resolved = prog.flow.resolve(site) if site.qualname is None else None
            if resolved is None or resolved[0] not in stateful or site.function is None:
                continue
            methods = methods_of(model, site.function)
            if resolved[0] not in methods.values():
                continue
            inner, leaves = stateful[resolved[0]]
            split = follow_to_split(model, site.function.body, site.statement, leaves, site.function,
                                    methods=methods)
            if split is not None:
                name = model.info(resolved[0]).name
                for fit in [f for f in fits_in.get(resolved[0], ()) if f not in at_fits]:
                    at_fits.add(fit)
                    this = source_at.get(fit, inner)
                    ctx.report(fit, f"`{name}()` leaves `{split.data}` holding data after "
                                    f"{this.what.replace(' is fitted on', ' fitted on')} `{this.data}` (this fit), "
                                    f"and `{shorten(model.code(split.node), 40)}` below "
                                    f"`{shorten(model.code(site.node), 30)}` splits it: the test rows shape the "
                                    f"preprocessing; split first and fit on the training part only")
        self._split_instances(ctx, prog, stateful, seen)
        self._split_by_other_modules(ctx, prog, at_fits)
        # Callers that split what a fitting helper returns. A caller that returns it in turn
        # is a fitting helper too (`fit()` -> `prep_input()` -> `prep_numeric_cols()`): a
        # few rounds reach the caller that splits.
        reported = set()
        for round_ in range(4):
            if not helpers and round_ > 0:
                return
            callers: dict = {}
            for site in model.calls:
                if not isinstance(site.statement, cst.Assign) or site.node in reported:
                    continue
                found = _fitting_callee(ctx, prog, site, helpers, imported=round_ == 0, fits_in=fits_in)
                if found is None:
                    continue
                name, inner = found
                seeds = set(names_assigned(site.statement))
                block = site.function.body if site.function is not None else model.module
                returns: list = []
                writes: list = []
                split = follow_to_split(model, block, site.statement, seeds, site.function, returns=returns,
                                        writes=writes)
                reader = _split_reader(ctx, writes) if split is None and writes else None
                if reader is not None:
                    reported.add(site.node)
                    self._report_written(ctx, site, name, inner, reader, source_at, at_fits)
                    continue
                if split is not None:
                    reported.add(site.node)
                    fits = [f for f in inner[2] if f not in at_fits]
                    if inner[2] and not fits:
                        continue  # already reported at the fits, through another caller
                    for fit in fits:
                        at_fits.add(fit)
                        this = source_at.get(fit)
                        what, data = (this.what, this.data) if this is not None else inner[:2]
                        ctx.report(fit, f"`{name}()` returns data after "
                                        f"{what.replace(' is fitted on', ' fitted on')} `{data}` (this fit), "
                                        f"and `{split.data}` is split below `{shorten(model.code(site.node), 30)}` "
                                        f"(`{shorten(model.code(split.node), 40)}`): the test rows shape the "
                                        f"preprocessing; split first and fit on the training part only")
                    if not inner[2]:  # a function of another module: the call is what this file shows
                        ctx.report(site.node, f"`{name}()` returns data after "
                                              f"{inner[0].replace(' is fitted on', ' fitted on')} `{inner[1]}`, and "
                                              f"`{split.data}` is split below (`{shorten(model.code(split.node), 40)}`): "
                                              f"the test rows shape the preprocessing; split first and fit on the "
                                              f"training part only")
                elif returns and site.function is not None and site.function not in helpers:
                    callers.setdefault(site.function, inner)
            helpers = callers


    @staticmethod
    def _split_by_other_modules(ctx, prog, at_fits: set) -> None:
        """`def data_cleaning(df): df.fillna(df.mean(), inplace=True); return df` here, and
        another module of the project splits what it returns (`train_test_split(
        cleaning.data_cleaning(df))`): reported at the fit, the place to fix, as the callers'
        summaries tell (split_results.py); a caller handing it a split's part fits a part."""
        from auditor.analysis.fitted_data import fitting_helpers
        from auditor.analysis.split_results import callers_splitting

        if not getattr(ctx.project, "summaries", None) or ctx.module_name is None:
            return
        for function, source in fitting_helpers(prog).items():
            info = ctx.model.info(function)
            if info is None or info.parent is not None or info.cls is not None or source.node in at_fits:
                continue
            parameter = source.data if source.data in info.params else None
            positional = list(info.positional)
            index = positional.index(parameter) if parameter in positional else None
            callers = callers_splitting(ctx.project, ctx.module_name, info.name, parameter, index)
            if callers:
                at_fits.add(source.node)
                ctx.report(source.node, f"{source.what} `{source.data}` in `{info.name}()`, and `{callers[0]}` "
                                        f"splits what it returns: the test rows shape the preprocessing; split "
                                        f"first and fit on the training part only")

    @staticmethod
    def _report_written(ctx, site, name: str, inner: tuple, reader: tuple, source_at: dict, at_fits: set) -> None:
        """`X, y = process(df)` returns data fitted on all its rows, the caller writes it to a
        file (`np.save("X.npy", X_all)`) that another function or module reads and splits:
        reported at the fits (this file's helper) or at the call (another module's)."""
        fits = [f for f in inner[2] if f not in at_fits]
        for fit in fits:
            at_fits.add(fit)
            this = source_at.get(fit)
            what, data = (this.what, this.data) if this is not None else inner[:2]
            ctx.report(fit, f"`{name}()` returns data after {what.replace(' is fitted on', ' fitted on')} `{data}` "
                            f"(this fit), written to `{reader[0]}` by the caller, which {reader[1]} reads and "
                            f"splits: the test rows shape the preprocessing; split first and fit on the "
                            f"training part only")
        if not inner[2]:
            ctx.report(site.node, f"`{name}()` returns data after {inner[0].replace(' is fitted on', ' fitted on')} "
                                  f"`{inner[1]}`, written to `{reader[0]}` here, which {reader[1]} reads and "
                                  f"splits: the test rows shape the preprocessing; split first and fit on the "
                                  f"training part only")

    @staticmethod
    def _split_instances(ctx, prog, stateful: dict, seen: set) -> None:
        """`ds = TabularDataset(path)`, whose `__init__` leaves data fitted on all its rows in
        `self.` attributes, then `random_split(ds, ...)`: the instance is split after the fit."""
        model = ctx.model
        classes = {}  # class name -> (what it fits)
        for function, (source, _) in stateful.items():
            info = model.info(function)
            if info is not None and info.name == "__init__" and info.cls is not None:
                classes[info.cls.name] = source
        if not classes:
            return
        for site in model.calls:
            if site.callee not in classes or not isinstance(site.statement, cst.Assign):
                continue
            if site.function is not None and model.class_of(site.function) is not None \
                    and model.class_of(site.function).name == site.callee:
                continue  # the class building another instance of itself
            inner = classes[site.callee]
            if any(split_of_name(n) in EVAL_SPLITS for n in names_assigned(site.statement)) or any(
                    a.keyword is not None and a.keyword.value in ("train", "train_flag", "is_train", "training")
                    and isinstance(a.value, cst.Name) and a.value.value == "False" for a in site.node.args):
                continue  # `val_set = Series(path, train=False)`: built for one part, not split afterwards
            block = site.function.body if site.function is not None else model.module
            split = follow_to_split(model, block, site.statement, set(names_assigned(site.statement)),
                                    site.function)
            if split is None or (split.node, inner.what) in seen:
                continue
            seen.add((split.node, inner.what))
            ctx.report(inner.node, f"{inner.what} `{inner.data}` in `{site.callee}`'s constructor, and the "
                                   f"instance built at `{shorten(model.code(site.node), 40)}` is split below "
                                   f"(`{shorten(model.code(split.node), 40)}`): the test rows shape the "
                                   f"preprocessing; split first and fit on the training part only")


def _split_reader(ctx, written: list) -> Optional[tuple]:
    """(file name, who reads it) when a file that fitted data was written to is read back and
    split by another function of this module, or by another module of the project (the file
    name links the two modules as an import does: auditor/data_files.py; checking this file
    alone summarizes the reader too)."""
    from auditor.analysis.split_reads import split_reads

    here = split_reads(ctx.model)
    for name in written:
        if name in here:
            return name, f"`{here[name]}()`" if here[name] else "this module"
    summaries = getattr(ctx.project, "summaries", None) or {}
    for name in written:
        for module, summary in sorted(summaries.items()):
            reader = (getattr(summary, "split_reads", None) or {}).get(name)
            if reader is not None and module != ctx.module_name:
                return name, f"`{module}.{reader}()`" if reader else f"`{module}`"
    return None


def _fits_own_data(model, source: FittedSource) -> bool:
    """The function fits data it gets itself (reads a file, its object's attributes), not data
    its caller hands in: the fit is then the place to fix, whoever calls it. A helper that fits
    whatever it is given (`def scale(x)`) is right or wrong by what each caller hands it."""
    info = model.info(source.function)
    root = re.match(r"[A-Za-z_]\w*", source.data or "")
    if info is None or root is None:
        return False
    # `values = frame.loc[:, [c]].values`, then `fit(values)`: still the caller's data
    names, seen = [root.group(0)], set()
    while names:
        name = names.pop()
        if name in seen or len(seen) > 20:
            continue
        seen.add(name)
        if name == "self":
            continue
        if name in info.params:
            return False
        for value in model.values_of(name, source.function, kinds=("assign", "for", "with")):
            names.extend(_data_roots(value))
    return True


def _data_roots(node: cst.BaseExpression, depth: int = 0) -> list:
    """The names whose rows `node` carries: the receiver and the first argument of a call
    (`frame.loc[:, cols]`, `np.asarray(x)`, `self.shift(df, look_back)` carries `df`, not the
    setting `look_back`), the base of a subscript, both sides of arithmetic."""
    if depth > 12:
        return []
    if isinstance(node, (cst.Name, cst.Attribute)):
        name = dotted_name(node)
        if name is not None:
            return [name.split(".")[0]]
        return _data_roots(node.value, depth + 1) if isinstance(node, cst.Attribute) else []
    if isinstance(node, cst.Subscript):
        return _data_roots(node.value, depth + 1)
    if isinstance(node, cst.Call):
        found = _data_roots(node.func.value, depth + 1) if isinstance(node.func, cst.Attribute) else []
        first = next((a.value for a in node.args if a.keyword is None and not a.star), None)
        return found + (_data_roots(first, depth + 1) if first is not None else [])
    if isinstance(node, cst.BinaryOperation):
        return _data_roots(node.left, depth + 1) + _data_roots(node.right, depth + 1)
    return []


def _fitting_callee(ctx, prog, site, helpers: dict, imported: bool, fits_in: dict) -> Optional[tuple]:
    """(name, (what is fitted, on which data, its fits in this file)) when this call returns data fitted on all its
    rows: a helper of the file in `helpers`, or (`imported`) a function of another module of
    the project whose summary says so (`X, y = load_data(args)`), unless the call hands it a
    split's part or a range of rows to fit (`normalize_dataset(x_train)`)."""
    if site.qualname is None:
        resolved = prog.flow.resolve(site) if helpers else None
        if resolved is None or resolved[0] not in helpers:
            return None
        inner = helpers[resolved[0]]
        if isinstance(inner, FittedSource):
            inner = (inner.what, inner.data, tuple(fits_in.get(inner.function, ())))
        info = prog.model.info(resolved[0])
        if info is not None and inner[1] in info.params and fits_a_part(
                prog, site.node, site.function, bind_arguments(info, site.node, resolved[1]).get(inner[1])):
            return None  # `normalize_dataset(x_train)`: the helper fits the training part it is given
        return info.name if info is not None else site.callee, inner
    if not imported:
        return None
    entry = project_entry(ctx.project, ctx.module_name, site.qualname, "fitted_returns")
    if entry is None:
        return None
    what, data, parameter, index = entry
    if parameter is not None:
        plain = [a.value for a in site.node.args if a.keyword is None and not a.star]
        value = next((a.value for a in site.node.args if a.keyword is not None and a.keyword.value == parameter),
                     plain[index] if index is not None and index < len(plain) else None)
        if fits_a_part(prog, site.node, site.function, value):
            return None
    return site.qualname.rsplit(".", 1)[-1], (what, data, ())


class TestDataInTrainingLoop(Rule):
    code = "TRN204"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "test-data-in-training-loop"
    needs_imports = ("torch", "transformers", "trl")  # a Hugging Face Trainer script need not import torch
    # The highest it reports: each finding is error (a decision reads the test score) or
    # info (the score is only reported), see `_judge`.
    severity = Severity.ERROR
    summary = "The test split is evaluated inside the training loop."
    what = """
        Flags an evaluation of test data (a forward pass on it, a loop over it, or a function
        called with it that runs forward passes and no optimizer step, or steps only a copy it
        makes of the model: few-shot fine-tuning on a task's support set) inside a loop that
        trains (backward/optimizer step, directly or in a helper it calls), and judges each
        finding by where the test result goes:

        - error: it reaches a decision: an `if`/`while` condition, `max`/`min`, early
          stopping, a scheduler's `step`; also inside the evaluation helper (a `test()` that
          saves a checkpoint when test accuracy beats the best), or after the epoch loop (test
          scores kept each epoch and the best of them reported: `max(test_f1s)`,
          `np.argmax(test_accs)`, `accs.mean(dim=0).max(dim=0)`), or a running best handed to
          the helper and taken back (`best_test_f, f = evaluating(model, test_data,
          best_test_f)`: the helper keeps the best test score; so does any call handed the
          score and the running best that hands the new best back, `best_loss =
          util.save_model(model, test_metrics, best_loss)`);
        - info: it is only printed, logged or stored (monitoring: the numbers stay right;
          reading a result dict only for its keys, `for k in test_stats.keys()`, `if k in
          test_stats:`, to fill a log is storing it);
        - silent: it is taken inside a branch that runs when validation improved (the report
          of the chosen epoch: `if val_acc > best:`, `if valid_mse < min_valid_mse and ...:`),
          or the call writes a file (`save_test_submission(...)`). A decision on the test
          score inside such a branch (`elif test_loss < best_test:`) is still an error.

        Across boundaries: evaluation helpers are recognised by behaviour (forward passes, no
        step), whatever their name (`vali()`); a helper that reads a module-level test loader
        (`def test(epoch): for x, y in testloader`) or picks the test part of what it is given
        (`data.test_user_dict`) counts; so does a dual-mode helper whose backward and step run
        only under `if train:` / `if optimizer is not None:`, called with that switch off
        (`train_or_eval(model, test_loader)`), and a helper that picks its loader by a switch
        (`loader = self.test_loader if test else self.dev_loader`) called with it on
        (`evaluate(model, test=True)`). A helper that trains one epoch and then evaluates a
        parameter in a later loop (`hit, mrr = train_test(model, train_data, test_data)`),
        of the file or of another module (also star-imported), is flagged (error) when it is
        handed test data and a decision in the caller's loop reads what it returns; only
        reported, it is not. `net.forward(x)` is a forward pass as `net(x)` is; a
        dataset class built with "test" (`TestSetLoader(root, "test")`) evaluates nothing
        yet. A function of another module of the project is read by what it does, as a
        same-file helper is: one that runs forward passes of a model it is handed and never
        back-propagates or steps (`from test import kNN`, `kNN(epoch, net, memory, trainloader,
        testloader)`) evaluates the data its loops iterate, whatever its name (only reported,
        not decided on, such a call is left unsaid unless its name says evaluation); one that steps
        (an `evaluate()` that calls `optimizer.step()`) trains. Where that cannot be told (its
        step under `if optimizer is not None:`, the model handed on to a call it cannot see
        into), it is read by its name (`utils.evaluation(model, test_iter)`), as an unresolved
        local helper is; a library's function is not. A test result handed to a function or
        method that decides on it (`save_if_best(model, acc)` keeping a global best,
        `saver.update(model, acc)` comparing with `self.best`, of the file or of another
        module), kept on `self` by the evaluation method and compared by the loop or a sibling
        method (`self.maybe_save()`), or returned per epoch and maxed by the caller
        (`accs = train(...)`, `np.max(accs)`) decides too. It reads which split a value holds
        from names and from how it was made (`flag="test"`, `train=False`, a dataset class reading a `test` folder,
        positions of `train_test_split`), not
        from runtime values.

        A search counts too: a loop whose every run trains a fresh model (a grid of settings,
        seeds; also a Lightning `trainer.fit` or a Hugging Face `trainer.train()` in the loop)
        and whose test score decides which run or setting wins (`if acc > best_acc: best_lr =
        lr`) is flagged (error); each run's final test score only collected (a mean over seeds)
        is not.

        Full-batch training counts when the test rows are picked from the model's output in
        the loop (`pred[data.test_mask]`, `output[idx_test]`), or by a same-file helper the loop
        calls that returns that score (`acc_val, acc_test = train(epoch)`; also a list of
        per-split scores built over `[data.train_mask, data.val_mask, data.test_mask]`, read as
        `train_acc, val_acc, test_acc = test()`), and a decision reads it (error; printed only,
        it is not reported).

        A training framework's own loop counts too: a Hugging Face `Trainer` (also
        `Seq2SeqTrainer`, `SFTTrainer`, a subclass of the file) given test data as its
        `eval_dataset` is flagged (error) when it selects on it: `load_best_model_at_end=True`
        in its `TrainingArguments`, or an `EarlyStoppingCallback`; so is a Lightning
        `trainer.fit(model, train_loader, test_loader)` (or `val_dataloaders=`) whose `Trainer`
        has `ModelCheckpoint(monitor=...)` or `EarlyStopping` among its callbacks (or as
        `checkpoint_callback=`); so is `trainer.fit(model, datamodule)` where the datamodule's
        (or the module's own) `val_dataloader()` returns the test split (`DataLoader(CIFAR10(root,
        train=False))`), its class in this file or another module of the project; so is a
        pytorch-tabnet `clf.fit(X_train, y_train, eval_set=[..., (X_test, y_test)])` (the last
        entry stops training early and its best epoch's weights are kept; not with
        `patience=0`). Scored along
        the way and nothing more, it is not flagged. The part a `Dataset.train_test_split(...)`
        of the file names "test" (`food = food.train_test_split(0.2)`, `food["test"]`) is the
        user's held-out slice of the training data used as the eval set, a validation split in
        all but name: an info reminder not to report its score as a test score.

        A validation name that is a copy of the test split on some path (`val_set = test_set`
        in the branch taken when no validation ratio is set, then `val_loader =
        DataLoader(val_set)`), or that is built from a constructor declaring the test split
        (`val_loader = DataLoader(CIFAR10(root, train=False))`), counts as test data there, but
        only when its result decides (error); such a copy on a path that returns before training, or made after the loop,
        does not reach the evaluation and is not one. So does a position of what a loader
        factory returns (`training_data, validation_data = prepare_dataloader(opt)` where the
        function returns `trainloader, testloader`, or `get_dataset()` of another module that
        makes `val_dataset` from the test split for one dataset, or hands it back as the test
        data too: `test_dataset = val_dataset`), and what a factory called for the test split
        gives (`vali_data, vali_loader = self._get_data(flag='TEST')`); a name that says nothing is
        read the same way (`loaders[-1]` after `loaders = load_data(...)`). So does a
        validation parameter that a caller fills with the test split (`def fit(model,
        train_loader, val_loader)` called as `fit(model, train_loader, test_loader)`, in the
        file or from another module; also `self.val_loader = val_loader` in a trainer's
        `__init__`, read by its `validate()`). A helper handed the test split alone gives test
        scores whatever the caller calls them (`val_loss, val_acc = evaluate(model,
        test_loader)`), and a method of the model's class that runs its layers
        (`model.score(x)`, `agent.act(obs)`) is a forward pass as `model(x)` is.
        """
    why = """
        Looking at test scores during training turns the test set into a validation set:
        every decision made on it (early stopping, picking the best epoch, tuning) fits the
        test data, and the final test number is no longer an unbiased estimate.
        """
    instead = """
        Evaluate on a validation split inside the loop and decide on it; score the test split
        once, after training (or at the epoch validation chose).
        """
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
        for call, data, slot, why, carved_out in framework_selections(prog):
            if carved_out:
                # `ds.train_test_split()`'s "test" used as the eval set is a validation split in
                # all but name: only a score reported on it as a test score would be optimistic.
                ctx.report(call, f"`{shorten(ctx.model.code(data))}` is {slot} and {why}; it is the part "
                                 f"`train_test_split` names \"test\", so it serves as validation data here: "
                                 f"do not report its score as a test score, keep another split for that",
                           severity=Severity.INFO)
                continue
            ctx.report(call, f"`{shorten(ctx.model.code(data))}` (test data) is {slot} and "
                             f"{why}: the test split selects the model, so the final test score is optimistic; "
                             f"give the trainer a validation split and score the test split once after training")
        reported = set()
        self._check_train_test_helpers(ctx, prog, reported)
        training_loops = self._training_loops(prog)
        if not training_loops:
            return
        produced: set = set()  # names bound from a test evaluation already reported
        forwards = {f.site.node: f for f in prog.forwards()}
        forwards.update((f.site.node, f) for f in _explicit_forwards(prog, forwards))
        # `model.score(x)`, `agent.act(obs)`: a method of the model's class that runs its layers
        # is a forward pass of the model, as `model(x)` is.
        forwards.update((f.site.node, f) for f in prog.helper_forwards()
                        if f.site.node not in forwards and f.site.method is not None and f.site.receiver is not None)
        helpers: dict = {}  # function -> (test data it reads itself, its evaluation loop) or None
        for site in ctx.model.calls:
            loops = [loop for loop in prog.loops_of(site.node) if loop in training_loops]
            if not loops or site.node in reported:
                continue
            found = self._test_evaluation(prog, site, forwards, helpers, (ctx.project, ctx.module_name))
            if found is None:
                continue
            evidence, unit, helper, mixed, aliased, by_data = found
            if unit in reported:
                continue
            if _fresh_model_per_run(prog, site, forwards.get(site.node), loops[0]):
                # Each run's final test score: reported (averaged over seeds), it is right; a
                # decision on it across runs (`if acc > best_acc: best_lr = lr`) tunes on test.
                verdict = _judge(prog, site, unit, loops[-1], helper, mixed, aliased, by_data)
                if verdict is None or verdict[0] is not Severity.ERROR:
                    continue
                reported.update((site.node, unit))
                ctx.report(site.node, f"{evidence} after each run of a search and the result decides "
                                      f"(`{shorten(ctx.model.code(verdict[1]))}`): choosing a run or a setting "
                                      f"on the test split makes the final test score optimistic; choose on "
                                      f"validation data and score the test split once, for the chosen setting")
                continue
            if forwards.get(site.node) is None and _scores_reported_results(prog, site, produced):
                continue  # `eval_metrics(test_preds, ...)`: the test evaluation already reported, scored
            reported.update((site.node, unit))
            produced.update(names_assigned(unit))  # a loop's targets (`for x, y in test_loader`)
            if isinstance(unit, cst.For):
                produced.update(seeds_of_block(unit.body))  # and what its body computes
            verdict = _judge(prog, site, unit, loops[-1], helper, mixed, aliased, by_data)
            if verdict is None:
                continue  # the test score of the epoch that validation chose
            severity, decision = verdict
            if aliased and severity is not Severity.ERROR:
                continue  # the test split only on some path, and only reported: too weak to speak
            if severity is not Severity.ERROR and self._trained_elsewhere_only(prog, loops[-1]):
                continue  # only reported, and the training seen only through another module's summary
            if severity is not Severity.ERROR and _evaluates_by_summary_only(prog, site, forwards):
                continue  # only reported, and the evaluation seen only through another module's summary
            if severity is Severity.ERROR:
                ctx.report(site.node, f"{evidence} inside the training loop and the result decides "
                                      f"(`{shorten(ctx.model.code(decision))}`): the test split selects the "
                                      f"model, so the final test score is optimistic; decide on validation data "
                                      f"and score the test split once after training")
            else:
                ctx.report(site.node, f"{evidence} inside the training loop, only to be reported (no decision "
                                      f"reads it): the numbers stay right, but watching test scores while "
                                      f"training invites choosing on them; score the test split once after "
                                      f"training, or at the epoch validation chose",
                           severity=Severity.INFO)
        self._check_masked(ctx, prog, training_loops, reported)

    @staticmethod
    def _check_train_test_helpers(ctx, prog, reported: set) -> None:
        """`hit, mrr = train_test(model, train_data, test_data)` each epoch: a helper that trains
        and then evaluates the test data it is handed, and a decision on what it returns.
        Only decisions are reported (error), as for full-batch scores."""
        model = prog.model
        memo: dict = {}  # same-file helper -> evaluated positions
        for site in ctx.model.calls:
            statement = site.statement
            if site.node in reported or not isinstance(statement, cst.Assign) or statement.value is not site.node:
                continue
            loops = prog.loops_of(site.node)
            if not loops:
                continue
            found = _train_test_helper(ctx, prog, site, memo)
            if found is None:
                continue
            params, (positions, results) = found
            plain = [a.value for a in site.node.args if a.keyword is None and not a.star]
            handed = [plain[i] for i in positions if i < len(plain)]
            handed += [a.value for a in site.node.args if a.keyword is not None
                       and a.keyword.value in {params[i] for i in positions if i < len(params)}]
            tests = [a for a in handed if prog.splits.split_of(a, site.function) == TEST]
            if not tests:
                continue
            loop = loops[-1]
            if _under_improvement(model, site.node, loop):
                continue
            decision = follow(loop.body, statement, _result_names(statement, results), deciding=_deciding(prog))
            if decision is None:
                continue
            reported.add(site.node)
            ctx.report(site.node, f"`{site.callee}()` trains and then evaluates `{shorten(model.code(tests[0]))}` "
                                  f"(test data), and inside the loop the result decides "
                                  f"(`{shorten(model.code(decision))}`): the test split selects the model, so the "
                                  f"final test score is optimistic; decide on validation data and score the test "
                                  f"split once after training")

    @staticmethod
    def _check_masked(ctx, prog, training_loops: set, reported: set) -> None:
        """Full-batch training: the test rows picked from the output (`pred[data.test_mask]`)
        each epoch, and a decision on that score. Only decisions are reported (error): a test
        accuracy printed each epoch this way is too common, and harmless, to speak about."""
        model = prog.model
        for loop in training_loops:
            if any(a in training_loops for a in model.ancestors(loop)):
                continue  # the epoch loop is the outermost training loop
            function = model.enclosing_function(loop)
            for site, index, seeds in _helpers_returning_test_scores(prog, loop, function):
                if site.node in reported or _under_improvement(model, site.node, loop):
                    continue
                decision = follow(loop.body, site.statement, seeds, deciding=_deciding(prog))
                if decision is None:
                    continue
                reported.add(site.node)
                ctx.report(site.node, f"`{site.callee}()` returns a score of the test rows "
                                      f"`{shorten(model.code(index))}` of the model's output, and inside the "
                                      f"training loop the result decides (`{shorten(model.code(decision))}`): the "
                                      f"test split selects the model, so the final test score is optimistic; decide "
                                      f"on the validation rows and score the test rows once after training")
            for statement, index in masked_test_scores(prog, loop, function):
                if statement in reported or _under_improvement(model, statement, loop):
                    continue
                decision = follow(loop.body, statement, set(names_assigned(statement)), deciding=_deciding(prog))
                if decision is None:
                    continue
                reported.add(statement)
                ctx.report(statement, f"the test rows `{shorten(model.code(index))}` of the model's output are scored "
                                      f"inside the training loop and the result decides "
                                      f"(`{shorten(model.code(decision))}`): the test split selects the model, so "
                                      f"the final test score is optimistic; decide on the validation rows and "
                                      f"score the test rows once after training")

    def _test_evaluation(self, prog, site, forwards, helpers, where=(None, None)) -> Optional[tuple]:
        """(evidence, unit, helper) when this call evaluates test data: the unit is the loop over
        the test data (or the call's statement), the helper the evaluation function it calls."""
        forward = forwards.get(site.node)
        for state in prog.flow.states_at(site.node) or [None]:
            if forward is not None:
                found = prog.eval_evidence(forward, state) if state is not None else None
                if found and "(test data)" in found:
                    return f"`{forward.key}` is evaluated {found}", _test_loop(prog, site, state), None, False, False, False
                alias = _aliased_test(prog, site, state) if found else None
                if alias is not None:
                    data, loop, binding = alias
                    return (f"`{forward.key}` is evaluated on `{data}` {_alias_words(prog, binding)}",
                            loop or site.statement, None, False, True, False)
                continue
            resolved = prog.flow.resolve(site) if site.qualname is None else None
            info = prog.model.function_info[resolved[0]] if resolved is not None else None
            if not self._evaluates(prog, site, info, where):
                return None
            declared, splits = _argument_splits(prog, site, state)
            if declared is not None and declared != TEST:
                continue  # `evaluate(..., segment="valid")`: the call says which split it scores
            data = prog.test_split_of_call(site, state) if state is not None else None
            if data:
                # `evaluate(model, val_nid, test_nid)` scores several splits: its results are
                # told apart by their names only.
                mixed = declared is None and bool(_evaluated_splits(prog, site, state, where, splits) & {TRAIN, VAL})
                # The call hands it the test split alone: whatever its results are called
                # (`val_loss, val_acc = evaluate(model, test_loader)`), they are test scores.
                return f"`{site.callee}()` evaluates `{data}` (test data)", site.statement, info, mixed, False, not mixed
            alias = _aliased_test(prog, site, state, loops=False) if declared is None else None
            if alias is not None:
                data, _, binding = alias
                return (f"`{site.callee}()` evaluates `{data}` {_alias_words(prog, binding)}",
                        site.statement, info, False, True, False)
            switched = _switched_test_data(prog, info, site.node, resolved[1]) \
                if info is not None and not splits else None
            if switched is not None:
                return f"`{site.callee}()` evaluates `{switched}` (test data)", site.statement, info, False, False, True
            own = _helper_test_data(prog, info, helpers) if info is not None and not splits else None
            if own is not None and _returns_before(prog, info, site.node, own[1]):
                return None  # `test("Sung")`: its argument takes an early return, the test loop never runs
            if own is not None:
                return f"`{site.callee}()` evaluates `{own[0]}` (test data)", site.statement, info, False, False, False
            held = _helper_aliased_test(prog, info) if info is not None and not splits else None
            if held is not None:
                # `self.validate()` looping over `self.val_loader`, which the class's caller
                # built from the test split: test data on that path (error only when it decides).
                data, binding = held
                return (f"`{site.callee}()` evaluates `{data}` {_alias_words(prog, binding)}",
                        site.statement, info, False, True, False)
        return None

    @staticmethod
    def _evaluates(prog, site, info, where=(None, None)) -> bool:
        """An evaluation call: by behaviour where the function is visible (forward passes and no
        training step), by name where it is not. A call that writes a file is not one."""
        from auditor.analysis.program import is_eval_name

        if _writes_file(site.callee or ""):
            return False
        if info is not None:
            trains = [s for s in info.calls if prog.is_backward(s) or prog.is_step(s)]
            if trains and not _training_switched_off(prog, info, site, trains) and not _steps_a_copy(prog, info, trains):
                return False
            if _writes_file(info.name):
                return False
            return prog.function_evaluates(info) or any(f.site.function is info.node for f in prog.forwards())
        if site.callee is None or "." not in site.callee and site.callee[:1].isupper():
            return False  # `TestSetLoader(root, "test")`: a class built, nothing evaluated yet
        if site.qualname is not None:
            # A function of another module of the project: by what it does where its module's
            # summary says (`kNN(epoch, net, memory, trainloader, testloader)` runs forward passes
            # and never steps; an `evaluate()` that steps trains), else by its name, as
            # unresolved local helpers are; a library's function is not read.
            entry = project_entry(*where, site.qualname, "evaluating_functions")
            if entry and entry[0] != SWITCHED:
                return entry[0] == EVALUATES
            return project_defines(*where, site.qualname) and is_eval_name(site.qualname.rsplit(".", 1)[-1])
        return is_eval_name(site.callee.rsplit(".", 1)[-1])

    @staticmethod
    def _training_loops(prog) -> set:
        trains = set()
        helpers: dict = {}  # function -> whether it trains: many calls resolve to the same few
        for site in prog.model.calls:
            if prog.is_backward(site) or prog.is_step(site) or _calls_trainer(prog, site, helpers):
                trains.update(prog.loops_of(site.node))
        return trains

    @staticmethod
    def _trained_elsewhere_only(prog, loop) -> bool:
        """Whether the loop's only training is a helper or method of another module (read from
        its summary): enough to judge a decision on the test split, too little to speak when
        the test score is only reported."""
        for site in prog.model.calls:
            if not prog.model.is_within(site.node, loop):
                continue
            if prog.is_backward(site) or prog.is_step(site) or _calls_trainer(prog, site, {}, cross_module=False):
                return False
        return True


def _train_test_helper(ctx, prog, site, memo: dict) -> Optional[tuple]:
    """(parameters a caller fills, evaluated positions) when the call's function trains and then
    evaluates some of its parameters: a function of the file, of another module of the project
    (imported, or star-imported: `from model import *`)."""
    from auditor.analysis.train_then_test import evaluated_parameters

    if site.qualname is None and site.callee is not None and "." not in site.callee:
        resolved = prog.flow.resolve(site)
        if resolved is not None:
            info = prog.model.function_info[resolved[0]]
            if info.node not in memo:
                memo[info.node] = evaluated_parameters(prog, info)
            return (list(info.positional), memo[info.node]) if memo[info.node] is not None else None
        return _star_imported_helper(ctx, site.callee)
    if site.qualname is not None:
        entry = project_entry(ctx.project, ctx.module_name, site.qualname, "train_test_helpers")
        return ([], tuple(entry)) if entry else None  # (parameter positions, result positions)
    return None


def _result_names(statement: cst.Assign, results: tuple) -> set:
    """The names the caller binds the evaluation's results to: the tuple positions that carry
    them (`train_loss, hit = train_test(...)` -> `hit`), or every name bound."""
    target = statement.targets[0].target if len(statement.targets) == 1 else None
    if results and isinstance(target, (cst.Tuple, cst.List)):
        return {dotted_name(e.value) for i, e in enumerate(target.elements) if i in results} - {None}
    return set(names_assigned(statement))


def _star_imported_helper(ctx, name: str) -> Optional[tuple]:
    """The train-then-test entry of `name` in a module the file star-imports."""
    project = ctx.project
    if project is None or not hasattr(project, "get"):
        return None
    summary = project.get(ctx.module_name) if ctx.module_name else None
    for star in getattr(summary, "star_imports", ()) or ():
        other = project.get(star)
        entry = (getattr(other, "train_test_helpers", None) or {}).get(name) if other is not None else None
        if entry:
            return [], tuple(entry)
    return None


def _explicit_forwards(prog, known: dict) -> list:
    """`pred = net.forward(img)` on a model outside its class: a forward pass, as `net(img)`
    is (TRN504 asks for that spelling; the pass is the same)."""
    found = []
    for site in prog.model.calls:
        if site.method != "forward" or site.node in known or site.receiver is None or site.qualname is not None:
            continue
        key = dotted_name(site.receiver)
        if key is None or key.startswith("self.") or not prog.roles.model_evidence(key, site.function):
            continue
        found.append(Forward(site, key))
    return found


def _calls_trainer(prog, site, helpers: dict, cross_module: bool = True) -> bool:
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
    if framework_trains(prog.model, site):
        return True  # `trainer.fit(model, ...)`: Lightning's (or a Hugging Face) training loop
    if site.qualname is not None:
        return cross_module and _imported_trainer(prog, site, helpers)
    callee = site.callee or ""
    if "." in callee:
        return cross_module and _instance_trainer(prog, site)
    tokens = name_tokens(callee)
    return bool(tokens) and tokens[0] == "train"


def _instance_trainer(prog, site) -> bool:
    """`trainer.train_epoch(loader)` where `trainer = Trainer(...)` is an instance of a class of
    another module of the project whose method of that name trains (its summary says so)."""
    from auditor.analysis.trainer_methods import instance_class_call

    receiver, _, method = (site.callee or "").rpartition(".")
    if not receiver or "." in receiver:
        return False
    call = instance_class_call(prog.model, receiver, site.function)
    if call is None:
        return False
    qualname = prog.model.qualify_call(call)
    entry = project_entry(prog.flow.project, prog.flow.module_name, qualname, "training_methods") \
        if qualname else None
    return bool(entry) and method in entry


def _imported_trainer(prog, site, helpers: dict) -> bool:
    """A training helper of another module of the project (`from engine import
    train_one_epoch`): one that calls `backward()` itself, or a function of the project named
    as training (its step may sit behind a loss scaler object: `loss_scaler(loss, optimizer)`)."""
    key = ("imported", site.qualname)
    if key not in helpers:
        project, module = prog.flow.project, prog.flow.module_name
        tokens = name_tokens(site.qualname.rsplit(".", 1)[-1])
        helpers[key] = prog._trains_elsewhere(site) or (
            bool(tokens) and tokens[0] == "train" and project_defines(project, module, site.qualname))
    return helpers[key]


def _training_switched_off(prog, info, site, trains) -> bool:
    """`train_or_eval(model, loader, optimizer=None, train=False)`: every backward/step of the
    helper sits under `if train:` (or `if optimizer is not None:`, `if optimizer:`) on a
    parameter that this call leaves false or None, so this call only evaluates."""
    resolved = prog.flow.resolve(site)
    args = bind_arguments(info, site.node, bool(resolved and resolved[1]))
    for step in trains:
        switched = False
        for ancestor in prog.model.ancestors(step.node):
            if ancestor is info.node:
                break
            if isinstance(ancestor, cst.If) and prog.model.is_within(step.node, ancestor.body):
                param, when_none = _switch_parameter(ancestor.test, info)
                if param is None:
                    continue
                value = args.get(param, info.defaults.get(param))
                if value is None:
                    continue  # neither passed nor defaulted: not known
                off = _is_none(value) if when_none is not None else (_is_none(value) or _is_false(value))
                if off:
                    switched = True
                    break
        if not switched:
            return False
    return True


def _steps_a_copy(prog, info, trains) -> bool:
    """Whether every optimizer step of the helper updates a copy it makes of the model
    (`net = copy.deepcopy(model)`; `opt = SGD(net.parameters())`; fine-tune on the support set,
    score the query set): test-time fine-tuning of a few-shot evaluation, which leaves the
    model it was given as it was."""
    steps = [s for s in trains if prog.is_step(s)]
    if not steps:
        return False
    for step in steps:
        receiver = dotted_name(step.receiver) if step.receiver is not None else None
        made = prog.model.values_of(receiver, info.node) if receiver else []
        if len(made) != 1 or not isinstance(made[0], cst.Call) or not made[0].args:
            return False
        params = made[0].args[0].value
        if not (isinstance(params, cst.Call) and isinstance(params.func, cst.Attribute)
                and params.func.attr.value == "parameters" and isinstance(params.func.value, cst.Name)):
            return False
        copies = prog.model.values_of(params.func.value.value, info.node)
        if not copies or not all(isinstance(c, cst.Call) and (dotted_name(c.func) or "").rsplit(".", 1)[-1]
                                 == "deepcopy" for c in copies):
            return False
    return True


def _switch_parameter(test: cst.BaseExpression, info) -> tuple:
    """(parameter, "none") for `if p is not None:` / `if p != None:`, (parameter, None) for
    `if p:`; (None, None) for any other condition."""
    if isinstance(test, cst.Name) and test.value in info.params:
        return test.value, None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.left, cst.Name) \
            and test.left.value in info.params:
        target = test.comparisons[0]
        if isinstance(target.operator, (cst.IsNot, cst.NotEqual)) and _is_none(target.comparator):
            return test.left.value, "none"
    return None, None


def _is_none(node) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _is_false(node) -> bool:
    return isinstance(node, cst.Name) and node.value == "False" or \
        isinstance(node, cst.Integer) and node.value == "0"


_WRITER_WORDS = {"save", "write", "dump", "export", "submission", "submit", "plot", "visualize", "visualise",
                 "draw", "show", "log", "print", "store"}


def _writes_file(name: str) -> bool:
    """`save_test_submission`, `plot_test_samples`, `log_test`: they write or draw, they do not score."""
    return bool(set(name_tokens(name.rsplit(".", 1)[-1])) & _WRITER_WORDS)


def _test_loop(prog, site, state):
    """The loop over the test data around a forward pass (the unit whose results are followed)."""
    env = state.env_dict if state is not None else None
    for loop in prog.loops_of(site.node):
        if isinstance(loop, cst.For) and prog.splits.split_of(loop.iter, site.function, env) == TEST:
            return loop
    return site.statement


def _fresh_model_per_run(prog, site, forward, loop) -> bool:
    """`for run in range(n): model = Net(); for epoch ...: train(...); results.append(test(model))`:
    the model is built anew in the loop around the evaluation, so each test score is the
    final score of an independent run, not a score taken while training."""
    if forward is not None:
        models = {forward.key}
    else:
        models = {dotted_name(a.value) for a in site.node.args} - {None}
        models = {m for m in models if prog.roles.is_model(m, site.function)}
    if not models:
        return False
    for statement in statements(loop.body):
        # `model = Net()` builds one; `model = model.to(device)` moves the same one.
        if isinstance(statement, cst.Assign) and isinstance(statement.value, cst.Call) and \
                set(names_assigned(statement)) & models and not names_read(statement.value) & models and not any(
                    isinstance(a, (cst.For, cst.While)) for a in prog.model.ancestors(statement)
                    if prog.model.is_within(a, loop) and a is not loop):
            return True
    return False


def _aliased_test(prog, site, state, loops: bool = True) -> Optional[tuple]:
    """(data as written, the loop over it or None, the binding that copies the test split)
    when an argument of the call (or, with `loops`, the data of a loop around it) is named
    as validation data, or not at all, but holds the test split on some path
    (`val_set = test_set` when no validation split is configured)."""
    env = state.env_dict if state is not None else None
    candidates = [(a.value, None) for a in site.node.args if a.keyword is None or a.keyword.value != "device"]
    if loops:
        candidates += [(loop.iter, loop) for loop in prog.loops_of(site.node) if isinstance(loop, cst.For)]
    for node, loop in candidates:
        if prog.splits.split_of(node, site.function, env) in (TRAIN, TEST, MIXED):
            continue
        binding = test_alias(prog.model, prog.splits, node, site.function, site.node,
                             elsewhere=lambda call, index, arity: _project_returns_test(prog, call, index, arity),
                             callers=lambda function, param: _caller_hands_test(prog, function, param))
        if binding is not None:
            return prog.model.code(node), loop, binding
    return None


def _project_returns_test(prog, call, index: int, arity) -> bool:
    """Whether a function of another module of the project returns test data at this position
    (`..., val_dataset, test_dataset, ... = utils.get_dataset(...)` where `get_dataset` makes
    `val_dataset` from the test split on some path), from that module's summary."""
    project, module = prog.flow.project, prog.flow.module_name
    if project is None or not isinstance(call, cst.Call) or not isinstance(call.func, (cst.Name, cst.Attribute)):
        return False
    qualname = prog.model.qualify_call(call)
    if not qualname:
        return False
    # `dataset_val, _ = build_dataset(is_train=False, args=args)`: the argument picks the test split.
    if split_by_arguments(project_entry(project, module, qualname, "split_params"), call, index, arity) == TEST:
        return True
    entry = project_entry(project, module, qualname, "test_returns") if index is not None else None
    return entry is not None and position_holds_test(entry, index, arity)


def _caller_hands_test(prog, function, param: str) -> Optional[str]:
    """A call (of this file, or another module's summary) that hands the test split to
    `param` of `function`, which is named for validation data or not at all."""
    return callers_handing_test(prog.model, prog.flow.project, prog.flow.module_name, function, param)


def _alias_words(prog, binding) -> str:
    if binding.kind == "param":  # `def fit(model, train_loader, val_loader)` given `test_loader`
        handed = _caller_hands_test(prog, binding.function, binding.target)
        return f"(a caller hands the test split to `{binding.target}`: {shorten(handed or 'test data')})"
    if binding.index is not None and isinstance(binding.value, cst.Call) and \
            declared_split_of_call(binding.value, frozenset(prog.model.class_info)) == TEST:
        # `vali_data, vali_loader = self._get_data(flag='TEST')`: the call asks for the test split
        return f"(made by a call that asks for the test split: `{shorten(prog.model.code(binding.statement))}`)"
    if binding.index is not None and isinstance(binding.value, cst.Call):
        # `training_data, validation_data = prepare_dataloader(opt)` returning `trainloader, testloader`
        return (f"(`{shorten(prog.model.code(binding.value.func))}()` returns test data in that position: "
                f"`{shorten(prog.model.code(binding.statement))}`)")
    if isinstance(binding.value, cst.Call):  # `val_loader = DataLoader(CIFAR10(root, train=False))`
        return f"(built from the test split: `{shorten(prog.model.code(binding.statement))}`)"
    return f"(the test split on the path where `{shorten(prog.model.code(binding.statement))}` runs)"


def _evaluates_by_summary_only(prog, site, forwards) -> bool:
    """`kNN(epoch, net, memory, trainloader, testloader)`: a function of another module whose
    name says nothing of evaluation, known to evaluate only from its module's summary."""
    from auditor.analysis.program import is_eval_name

    if site.qualname is None or forwards.get(site.node) is not None or prog.flow.resolve(site) is not None:
        return False
    return not is_eval_name(site.qualname.rsplit(".", 1)[-1])


def _evaluated_splits(prog, site, state, where, splits: set) -> set:
    """The splits among the arguments that the callee evaluates: all of them, unless it is a
    function of another module whose summary names the data its forward-pass loops iterate
    (`kNN(epoch, net, memory, trainloader, testloader)` scores `testloader` only; the
    training loader is its memory bank)."""
    if site.qualname is None or state is None:
        return splits
    entry = project_entry(*where, site.qualname, "evaluating_functions")
    if not entry or entry[0] != EVALUATES or not entry[2]:
        return splits
    plain = [a.value for a in site.node.args if a.keyword is None and not a.star]
    if any(a.star for a in site.node.args):
        return splits
    found = set()
    for index in entry[2]:
        if index < len(plain):
            split = prog.splits.split_of(plain[index], site.function, state.env_dict)
            if split:
                found.add(split)
    return found | {s for s in splits if s == TEST}


def _argument_splits(prog, site, state) -> tuple:
    """(the split a string argument declares, every split the arguments hold)."""
    env = state.env_dict if state is not None else None
    declared, found = None, set()
    for arg in site.node.args:
        split = prog.splits.split_of(arg.value, site.function, env)
        if split:
            found.add(split)
            if isinstance(arg.value, cst.SimpleString):
                declared = split
    return declared, found


def _reads_parameter(prog, info, node) -> bool:
    """Whether a loop's data comes from the helper's parameters (directly or one binding away:
    `with tqdm(test_loader) as tq: for x in tq`). A method's own attributes
    (`self.test_loader`) are the object's data, not what this caller passes."""
    bound = info.cls is not None and info.params and not any(
        dotted_name(d) == "staticmethod" for d in info.decorators)
    params = set(info.params) - ({info.params[0]} if bound else set())
    names = names_read(node)
    if names & params:
        return True
    for name in names:
        for binding in prog.model.bindings_of(name, info.node):
            if binding.function is info.node and names_read(binding.value) & params:
                return True
    return False


def _helper_test_data(prog, info, helpers: dict) -> Optional[tuple]:
    """(test data, loop) when a helper's own forward passes read test data (`for x in testloader`
    over a module-level loader in `def test(epoch):`)."""
    if info.node in helpers:
        return helpers[info.node]
    helpers[info.node] = None
    for forward in prog.forwards():
        if forward.site.function is not info.node:
            continue
        for loop in prog.loops_of(forward.site.node):
            if not isinstance(loop, cst.For) or _reads_parameter(prog, info, loop.iter):
                continue  # data the caller passes in: the arguments say which split it is
            if prog.splits.split_of(loop.iter, info.node) == TEST:
                helpers[info.node] = (prog.model.code(loop.iter), loop)
                return helpers[info.node]
    return None


def _helper_aliased_test(prog, info) -> Optional[tuple]:
    """(data as written, binding) when a helper's own evaluation loop reads data of its object
    or module, not a parameter (`for x, y in self.val_loader`), named for validation or not at
    all, that holds the test split on some path: `self.val_loader = val_loader` in `__init__`,
    whose caller hands it `test_loader`."""
    for forward in prog.forwards():
        if forward.site.function is not info.node:
            continue
        for loop in prog.loops_of(forward.site.node):
            if not isinstance(loop, cst.For) or _reads_parameter(prog, info, loop.iter):
                continue
            if prog.splits.split_of(loop.iter, info.node) in (TRAIN, TEST, MIXED):
                continue
            binding = test_alias(prog.model, prog.splits, loop.iter, info.node, loop,
                                 elsewhere=lambda call, index, arity: _project_returns_test(prog, call, index, arity),
                                 callers=lambda function, param: _caller_hands_test(prog, function, param))
            if binding is not None:
                return prog.model.code(loop.iter), binding
    return None


def _switched_test_data(prog, info, call: cst.Call, bound: bool) -> Optional[str]:
    """The test data a helper's evaluation loop reads when this call turns its switch on:
    `loader = self.test_loader if test else self.dev_loader` (or the reverse under `not`)
    inside `def evaluate(model, test=False)`, called as `evaluate(model, test=True)`."""
    arguments = None
    for forward in prog.forwards():
        if forward.site.function is not info.node:
            continue
        for loop in prog.loops_of(forward.site.node):
            if not isinstance(loop, cst.For):
                continue
            for name in names_read(loop.iter):
                for binding in prog.model.bindings_of(name, info.node):
                    choice = binding.value if binding.function is info.node else None
                    if not isinstance(choice, cst.IfExp):
                        continue
                    switch, negated = _choice_switch(choice.test, info)
                    if switch is None:
                        continue
                    if arguments is None:
                        arguments = bind_arguments(info, call, bound)
                    value = arguments.get(switch, _default_of(info, switch))
                    on = _known_truth(evaluate(value, State())) if value is not None else False
                    picked = choice.body if on != negated else choice.orelse
                    if prog.splits.split_of(picked, info.node) == TEST:
                        return prog.model.code(picked)
    return None


def _choice_switch(test: cst.BaseExpression, info) -> tuple:
    """(parameter, negated) for the condition `p` or `not p` of a parameter, else (None, False)."""
    negated = False
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, negated = test.expression, True
    if isinstance(test, cst.Name) and test.value in info.params:
        return test.value, negated
    return None, False


def _default_of(info, parameter: str) -> Optional[cst.BaseExpression]:
    params = info.node.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == parameter:
            return param.default
    return None


def _returns_before(prog, info, call: cst.Call, loop: cst.For) -> bool:
    """`test("Sung")` with `def test(name=None): if name: ...; return` above the loop over the
    test data: the constants this call passes take the early return, so the call never reads
    the test split (the argument-less `test()` does)."""
    state = State()
    positional = info.positional
    for index, arg in enumerate(call.args):
        if arg.star:
            return False  # `*args`: which parameter gets what is unknown
        name = arg.keyword.value if arg.keyword is not None else \
            (positional[index] if index < len(positional) else None)
        value = evaluate(arg.value, State())
        if name is not None and (value is None or type(value) in (str, int, float, bool)):
            state = state.with_env(name, value)
    enclosing = set(prog.model.ancestors(loop)) | {loop}
    for statement in info.node.body.body:
        if statement in enclosing:
            return False
        if type(statement) is cst.If and _known_truth(evaluate(statement.test, state)) and \
                _ends_in_return(statement.body):
            return True
    return False


def _known_truth(value) -> bool:
    """A constant `evaluate` found, and a true one (an unknown value is never taken as true)."""
    return type(value) in (str, int, float, bool) and bool(value)


def _ends_in_return(block: cst.BaseSuite) -> bool:
    last = block.body[-1] if block.body else None
    if isinstance(last, cst.SimpleStatementLine):
        return bool(last.body) and type(last.body[-1]) in (cst.Return, cst.Raise)
    return False


def _evaluation_loop(prog, info) -> Optional[cst.For]:
    """The outermost loop of a helper that runs forward passes (where its scores are summed)."""
    outer = None
    for forward in prog.forwards():
        if forward.site.function is info.node:
            for loop in prog.loops_of(forward.site.node):
                if isinstance(loop, cst.For):
                    outer = loop
    return outer


_TEST_WORDS = {"test", "testing", "tst", "heldout"}
_OTHER_SPLIT_WORDS = {"train", "training", "tr", "trn", "val", "valid", "validation", "vali", "dev", "eval",
                      "evaluation", "va"}


def _names_other_split(name: str) -> bool:
    """`val_acc`, `eval_loss`, `train_f1`: a metric of another split (results are named loosely)."""
    tokens = set(name_tokens(name))
    return bool(tokens & _OTHER_SPLIT_WORDS) and not tokens & _TEST_WORDS


def _outliving(info) -> set:
    """Names in a helper that outlive the call: `global`/`nonlocal` ones and `self.` attributes
    are where a helper keeps the best score it compares against."""
    found = set()
    for statement in statements(info.node.body):
        if isinstance(statement, (cst.Global, cst.Nonlocal)):
            found.update(n.name.value for n in statement.names)
    return found


def _scores_reported_results(prog, site, produced: set) -> bool:
    """Every test-data argument of this call is a result of a test evaluation already reported
    (`preds = validate(test_loader)`, then `eval_metrics(preds, truth)`): no new evaluation."""
    if not produced:
        return False
    tests = [a.value for a in site.node.args if prog.splits.split_of(a.value, site.function) == TEST]
    return bool(tests) and all(names_read(t) & produced for t in tests)


def _appended_to(statement: cst.CSTNode, call: cst.Call) -> set:
    """`scores.append(evaluate(model, test_loader))`: the list that keeps the result."""
    if not isinstance(statement, cst.Expr) or not isinstance(statement.value, cst.Call):
        return set()
    outer = statement.value
    if not (isinstance(outer.func, cst.Attribute) and outer.func.attr.value in ("append", "extend")
            and any(a.value is call for a in outer.args)):
        return set()
    name = dotted_name(outer.func.value)
    return {name} if name else set()


def _helpers_returning_test_scores(prog, loop, function) -> Iterator[tuple]:
    """(call site, test index, names the caller binds the score to) for calls in the epoch
    loop of a same-file helper that returns a score of the test rows of its forward pass."""
    memo: dict = {}  # helper -> its returned test scores (many calls, few helpers)
    for site in prog.sites_in(loop, function):
        statement = site.statement
        if not isinstance(statement, cst.Assign) or statement.value is not site.node or site.qualname is not None:
            continue
        resolved = prog.flow.resolve(site)
        if resolved is None:
            continue
        if resolved[0] not in memo:
            memo[resolved[0]] = returned_test_scores(prog, prog.model.function_info[resolved[0]])
        scores = memo[resolved[0]]
        target = statement.targets[0].target
        if isinstance(target, (cst.Tuple, cst.List)):
            seeds = {dotted_name(e.value) for i, e in enumerate(target.elements) if i in scores} - {None}
            index = next((scores[i] for i in range(len(target.elements)) if i in scores), None)
        else:
            seeds = set(names_assigned(statement)) if None in scores else set()
            index = scores.get(None)
        if seeds and index is not None:
            yield site, index, seeds


def _under_improvement(model, node, epoch_loop) -> bool:
    """Inside `if val_acc > best_val:` within the epoch loop: the chosen epoch's report."""
    previous = node
    for ancestor in model.ancestors(node):
        if ancestor is epoch_loop:
            return False
        if isinstance(ancestor, cst.If) and previous is ancestor.body and improvement_guard(ancestor.test):
            return True
        previous = ancestor
    return False


_DECIDING: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _deciding(prog):
    """The file's reader of calls that decide on what they are handed (`save_if_best(model,
    acc)`: the comparison with the best lives in the callee), one per program (it memoizes)."""
    found = _DECIDING.get(prog)
    if found is None:
        found = _DECIDING[prog] = deciding_call_reader(prog)
    return found


def _judge(prog, site, unit, epoch_loop, helper, mixed: bool, aliased: bool = False,
           by_data: bool = False) -> Optional[tuple]:
    """(severity, deciding node) of a test evaluation inside the training loop; None when it is
    the report of the epoch that validation chose (inside `if val_acc > best:`). `aliased`: the
    data is named as validation data (`val_loader` that is the test split on some path), so
    its results are too (`val_acc`). `by_data`: the call is handed the test split and no other,
    so its results are test scores whatever they are called (`val_acc = evaluate(model,
    test_loader)`)."""
    model = prog.model
    previous = unit
    for ancestor in model.ancestors(unit):
        if ancestor is epoch_loop:
            break
        if isinstance(ancestor, cst.If) and previous is ancestor.body and improvement_guard(ancestor.test):
            return None
        previous = ancestor
    stored: set = set()  # `self.` attributes the evaluation method leaves its test results in
    if helper is not None and not mixed:
        loop = _evaluation_loop(prog, helper)
        if loop is not None:
            left: set = set()
            decision = follow(helper.node.body, loop, seeds_of_block(loop.body), outlives=_outliving(helper),
                              final=left, deciding=_deciding(prog))
            if decision is not None:
                return Severity.ERROR, decision
            if helper.cls is not None:
                stored = {n for n in left if n.startswith("self.") and n.count(".") == 1}
    kept: set = set()  # names holding test results when the epoch loop ends
    if isinstance(unit, cst.For):
        decision = follow(epoch_loop.body, unit, seeds_of_block(unit.body), final=kept, deciding=_deciding(prog))
    else:
        decision = decision_in(unit, set(), site.node, deciding=_deciding(prog)) if unit is not None else None
        best = threaded_best(unit, site.node) if decision is None and unit is not None else None
        if best is not None and (not mixed or set(name_tokens(dotted_name(best) or "")) & _TEST_WORDS):
            # `best_test_f, f, _ = evaluating(model, test_data, best_test_f)`: the helper keeps
            # the best test score over the epochs (mixed: only a best named as test counts).
            decision = best
        if decision is None and unit is not None:
            # `train_acc, val_acc, test_acc = test()`: the validation score may decide.
            seeds = {n for n in names_assigned(unit) if aliased or by_data or not _names_other_split(n)} | \
                _appended_to(unit, site.node)
            if mixed:  # several splits scored at once: only a result named as test is one
                seeds = {n for n in seeds if set(name_tokens(n)) & _TEST_WORDS}
            seeds |= stored  # `self.evaluate()` then `if self.acc > self.best_acc:`
            decision = follow(epoch_loop.body, unit, seeds, None if mixed else site.node, final=kept,
                              deciding=_deciding(prog))
    if decision is None and kept:
        # `scores.append(test_f1)` each epoch, then `print(max(scores))` after training: the
        # reported figure is the best test score over the epochs.
        block = site.function.body if site.function is not None else model.module
        left: set = set()
        decision = follow(block, epoch_loop, kept, across=True, final=left)
        if decision is None and site.function is not None:
            # `return test_accs` (or `history`), and the caller picks the best of them:
            # `accs = train(...)`, `print(max(accs))`.
            decision = returned_history_decision(prog, site.function, left)
    if decision is not None:
        return Severity.ERROR, decision
    return Severity.INFO, None


DATA_RULES = [PreprocessorFitOnTestData(), PreprocessorFitBeforeSplit(), ShuffledEvalLoader(),
              TestDataInTrainingLoop()]
