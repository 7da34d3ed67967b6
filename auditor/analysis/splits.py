"""Which split a value holds, read from the names people give it."""

from __future__ import annotations

import functools
import re
from typing import Optional

TRAIN, VAL, TEST, ALL = "train", "val", "test", "all"
EVAL_SPLITS = (VAL, TEST)
# Words that name an evaluation function (`vali`, `run_test`, `predict_batch`).
EVAL_WORDS = {"eval", "evaluate", "evaluation", "validate", "validation", "valid", "val", "test", "testing",
              "predict", "prediction", "predictions", "inference", "infer", "score", "accuracy", "metrics"}

_TOKENS = {
    TRAIN: {"train", "tr", "trn", "training", "trainset", "trainloader", "traindl"},
    VAL: {"val", "valid", "validation", "vali", "dev", "va", "eval", "evaluation", "holdout", "valset",
          "valloader", "validloader", "evalloader", "devloader"},
    TEST: {"test", "tst", "te", "testing", "testset", "testloader", "heldout"},
}
# Words that name a split only in a name about data: `valid_loader`, `X_te`, `dev_set`, but
# not the adjective in `valid_lens`/`text_valid`, nor `dev` (device), `eval_fn`, `tr_loss`.
_AMBIGUOUS = {"valid", "dev", "eval", "evaluation", "te", "tr", "va", "vali"}
# The rest of a name that makes an ambiguous split word mean a split: data and its containers.
DATA_WORDS = {
    "loader", "loaders", "dataloader", "dataloaders", "dl", "dls", "ds", "dset", "dsets", "data", "dataset",
    "datasets", "set", "sets", "x", "y", "xs", "ys", "iter", "iterator", "batch", "batches", "features",
    "feats", "labels", "lbls", "inputs", "targets", "images", "imgs", "samples", "subset", "split", "df",
    "idx", "idxs", "indices", "sampler", "examples", "files", "file", "list", "paths", "path", "dir", "root",
    "generator", "sentences", "seqs", "sequences", "records", "tensor", "tensors", "arr", "array", "frame",
    "stream", "transform", "transforms", "tf", "tfs", "tfms", "trans", "aug", "augs", "augmentation",
    "augmentations", "preprocess", "preprocessing", "collate", "fold", "folds", "portion",
}
# Words that make a name a setting about a split, not its data: `test_size`, `args.test_cores`,
# `n_test`, `val_every`, `test_ratio`.
SETTING_WORDS = {"size", "sizes", "cores", "workers", "every", "interval", "freq", "frequency", "ratio",
                 "ratios", "num", "n", "count", "epochs", "steps", "period", "percent", "pct", "frac",
                 "fraction", "proportion", "bs"}
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SPLIT_WORDS = set().union(*_TOKENS.values())
# The split word that also abbreviates "value" (`max_val`, `min_val`, `abs_val`).
_VALUE_WORD = "val"


def name_tokens(name: str) -> list[str]:
    """`X_te` -> [x, te]; `validLoader` -> [valid, loader]; `self.test_dl` -> [test, dl]."""
    return list(_tokens_of_last_part(name.rsplit(".", 1)[-1]))


@functools.lru_cache(maxsize=4096)
def _tokens_of_last_part(last: str) -> tuple:
    # The rules ask about the same few names thousands of times per file.
    return tuple(t.lower() for t in _WORD.findall(last))


def _names_data(tokens: list[str], alone: bool) -> bool:
    """Whether an ambiguous split word among `tokens` stands for a split: the rest of the
    name is data vocabulary (or, for a string such as a dict key, there is no rest)."""
    rest = [t for t in tokens if t not in _SPLIT_WORDS and not t.isdigit()]
    if not rest:
        return alone
    return all(t in DATA_WORDS for t in rest)


def split_of_name(name: Optional[str], alone: bool = False) -> Optional[str]:
    """train / val / test from a name, or None when the name says nothing or both.

    `alone`: the text is a split's name by itself (a phase string, a dict key): a lone
    ambiguous word ("valid", "dev") counts. A variable named `dev` or `valid` does not."""
    if not name:
        return None
    tokens = name_tokens(name)
    if SETTING_WORDS.intersection(tokens):
        return None
    found = {split for split, words in _TOKENS.items() for t in tokens if t in words
             and (t not in _AMBIGUOUS or _names_data(tokens, alone))}
    if len(found) == 1:
        return found.pop()
    return None


def names_training(name: str) -> bool:
    return split_of_name(name) == TRAIN


def split_of_string(text: str) -> Optional[str]:
    """A dict key or phase string such as "valid" or "test"."""
    return split_of_name(text.strip("'\""), alone=True)


MIXED = "mixed"  # rows of training data and evaluation data together

_PASS_THROUGH_CALLS = {
    "DataLoader", "TensorDataset", "Subset", "tensor", "as_tensor", "from_numpy", "asarray", "array",
    "enumerate", "iter", "tqdm", "list", "tuple", "zip", "DataFrame", "Series", "ImageFolder",
    "DistributedSampler", "SequentialSampler", "deepcopy", "copy", "float32", "stack", "trange", "next",
}
_CONCAT_CALLS = {"concatenate", "vstack", "hstack", "row_stack", "concat", "cat", "ConcatDataset", "append"}
_SPLIT_FUNCTIONS = {"train_test_split": "alternate", "random_split": "ordered"}
_CV_SPLITTERS = {"KFold", "StratifiedKFold", "GroupKFold", "ShuffleSplit", "StratifiedShuffleSplit",
                 "TimeSeriesSplit", "RepeatedKFold", "RepeatedStratifiedKFold", "GroupShuffleSplit",
                 "LeaveOneOut", "PredefinedSplit", "StratifiedGroupKFold"}


# Keywords through which a dataset constructor or loader helper is told its split:
# `load_dataset(..., split="test")`, `VOCSegmentation(image_set="val")`, `get_data(flag="TEST")`.
_SPLIT_KEYWORDS = {"split", "subset", "image_set", "mode", "flag", "phase", "stage", "partition", "set_name",
                   "which_set", "split_name", "data_split", "dataset_split"}
_LOADER_WORDS = {"load", "get", "make", "build", "create", "read", "fetch", "prepare", "provider", "dataset",
                 "data", "loader", "split"}


def _declared_split(call, last: Optional[str], keywords: dict) -> Optional[str]:
    """The split a call declares by behaviour, whatever its result is named: a string given
    to a split keyword, or `train=False` to a dataset class (`CIFAR10("data", train=False)`)."""
    import libcst as cst

    for key in _SPLIT_KEYWORDS & keywords.keys():
        value = keywords[key]
        if isinstance(value, cst.SimpleString):
            try:
                text = value.evaluated_value
            except (SyntaxError, ValueError):  # an escape CPython refuses that libcst parses
                continue
            if isinstance(text, str) and split_of_string(text):
                return split_of_string(text)
    train = keywords.get("train")
    if isinstance(train, cst.Name) and train.value in ("True", "False") and last and (
            last[:1].isupper() or set(name_tokens(last)) & _LOADER_WORDS):
        return TRAIN if train.value == "True" else TEST
    if last and last[:1].isupper():
        # A dataset class reading a folder: `ImageFolder(os.path.join(root, "test"))`.
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        where = next((keywords[k] for k in _PATH_KEYWORDS if k in keywords), positional[0] if positional else None)
        folder = _last_path_part(where)
        if folder is not None and folder.lower() in _FOLDER_SPLITS:
            return _FOLDER_SPLITS[folder.lower()]
    return None


# Folder names that are a split by themselves (`data/test`, `val`), as the last part of a path.
_FOLDER_SPLITS = {"test": TEST, "testing": TEST, "test_set": TEST, "testset": TEST,
                  "train": TRAIN, "training": TRAIN, "val": VAL, "valid": VAL, "validation": VAL}
_PATH_KEYWORDS = ("root", "path", "data_dir", "root_dir", "data_path", "folder", "directory", "img_dir")


def _last_path_part(node) -> Optional[str]:
    """The last component of a path written as a literal, a join or a concatenation:
    `"data/test"`, `os.path.join(root, "test")`, `root + "/test/"`, `Path(root) / "test"`."""
    import libcst as cst

    if isinstance(node, cst.SimpleString):
        try:
            text = node.evaluated_value
        except (SyntaxError, ValueError):
            return None
        if not isinstance(text, str):
            return None
        parts = [p for p in text.replace("\\", "/").split("/") if p]
        return parts[-1] if parts else None
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.Divide)):
        return _last_path_part(node.right)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "join" \
            and isinstance(node.func.value, cst.Attribute) and node.func.value.attr.value == "path" and node.args:
        return _last_path_part(node.args[-1].value)
    return None


def declared_split_of_call(call, own_classes: frozenset = frozenset(), model=None) -> Optional[str]:
    """The split a constructor or loader call declares by its arguments (`CIFAR10(root,
    train=False)`, `get_data(flag="TEST")`), through pass-through wrappers (`DataLoader(...)`,
    `Subset(...)`); None when the call says nothing. For a class of `own_classes` (the user's
    own dataset) `train=False` says only "not the training part", which is often the
    validation rows of the training folder (`MyDataset(train=False)`): only a split string counts.
    With the file's `model`, its own classes are read by what they do: one whose flag, False,
    reads test files (`own_split_flags`) declares the test split with it, and one that serves the
    rows of the dataset it is handed (`wrapper_datasets`) declares that dataset's split:
    `DatasetWrapper(CIFAR10(root, train=False))`."""
    import libcst as cst

    from auditor.analysis.own_split_flags import flag_split, phase_split
    from auditor.analysis.wrapper_datasets import wrapped_by, wrapper_classes

    wrappers = wrapper_classes(model) if model is not None else None
    for _ in range(8):
        if not isinstance(call, cst.Call):
            return None
        own = flag_split(model, call) or phase_split(model, call)
        if own:
            return own
        last = SplitResolver._callee_last(call)
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if last in own_classes:
            keywords.pop("train", None)
        declared = _declared_split(call, last, keywords)
        if declared:
            return declared
        wrapped = wrapped_by(call, wrappers)
        if wrapped is not None:
            call = wrapped
            continue
        if last not in _PASS_THROUGH_CALLS:
            return None
        data = [a.value for a in call.args if a.keyword is None and not a.star][:1] + \
            [keywords[k] for k in ("dataset",) if k in keywords]
        if not data:
            return None
        call = data[0]
    return None


def combine(splits) -> Optional[str]:
    """One split when the evidence agrees; MIXED when training and evaluation data meet."""
    found = {s for s in splits if s}
    if not found:
        return None
    if len(found) == 1:
        return found.pop()
    if TRAIN in found and found & {VAL, TEST, MIXED}:
        return MIXED
    return None


def position_split(function_name: str, index: int, arity: Optional[int]) -> Optional[str]:
    """Which split the `index`-th result of a splitting function holds."""
    how = _SPLIT_FUNCTIONS.get(function_name)
    if how == "alternate":
        return TRAIN if index % 2 == 0 else TEST
    if how == "ordered":
        order = [TRAIN, VAL, TEST] if arity == 3 else [TRAIN, VAL]
        return order[index] if index < len(order) else None
    return None


class SplitResolver:
    """split_of(expression): which split a value holds, through names, bindings and calls."""

    def __init__(self, model) -> None:
        self.model = model
        self._memo: dict = {}
        # Set by the program model: (function, parameter) -> [(argument expression, caller function)].
        self.arguments_of = None
        # Set by the program model: call -> (data, of magnitudes?) when it is a statistic over the
        # rows of data (leakage.row_statistic, which imports this module).
        self.row_statistic = None

    def split_of(self, node, function=None, env: Optional[dict] = None, depth: int = 0) -> Optional[str]:
        import libcst as cst  # local: keep this module importable without libcst for name rules

        if node is None or depth > 8:
            return None
        if isinstance(node, cst.SimpleString):
            try:
                value = node.evaluated_value
            except (SyntaxError, ValueError):  # an escape CPython refuses that libcst parses
                return None
            return split_of_string(value) if isinstance(value, str) else None
        if isinstance(node, cst.Name) and env and node.value in env:
            bound = env[node.value]
            if isinstance(bound, str):
                return split_of_string(bound)
            if isinstance(bound, cst.CSTNode):
                return self.split_of(bound, function, None, depth + 1)
            return None
        if isinstance(node, (cst.Name, cst.Attribute)):
            from auditor.analysis.names import dotted_name

            name = dotted_name(node)
            direct = split_of_name(name)
            if direct:
                return direct
            if isinstance(node, cst.Attribute) and node.attr.value in ("dataset", "data", "values", "T", "x", "y",
                                                                       "X", "targets", "indices"):
                inner = self.split_of(node.value, function, env, depth + 1)
                if inner:
                    return inner
            if name is None:
                return None
            key = (name, function, depth > 0)
            if env is None and key in self._memo:
                return self._memo[key]
            if env is None:
                self._memo[key] = None  # recursion guard
            result = self._from_bindings(name, function, depth)
            if env is None:
                self._memo[key] = result
            return result
        if isinstance(node, cst.Subscript):
            from auditor.analysis.model import subscript_key

            key = subscript_key(node)
            if key is not None and split_of_string(key):
                return split_of_string(key)
            if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
                index = node.slice[0].slice.value
                if isinstance(index, cst.Name) and env and isinstance(env.get(index.value), str):
                    return split_of_string(env[index.value])
                base = self.split_of(node.value, function, env, depth + 1)
                if base:
                    return base
                position = _integer(index)
                if position is not None:
                    # `loaders[-1]` after `loaders = load_data(...)`: what that position returns.
                    return self._position_of_results(node.value, position, function, depth + 1)
                return self.split_of(index, function, env, depth + 1)
            base = self.split_of(node.value, function, env, depth + 1)
            if base is None:
                from auditor.analysis.row_cuts import held_out_cut

                # `model(X[80:])` beside `model(X[:80])`: the rows cut off are held out.
                if held_out_cut(self.model, node, function, names_training):
                    return VAL
            return base
        if isinstance(node, cst.Call):
            return self._call_split(node, function, env, depth)
        if isinstance(node, (cst.List, cst.Tuple)):
            return combine(self.split_of(e.value, function, env, depth + 1) for e in node.elements)
        if isinstance(node, cst.BinaryOperation):
            # `x - x * mask + mpv * mask`, `(x_test - mean) / std`: arithmetic keeps the data's split.
            return combine((self._operand_split(node.left, node.right, function, env, depth + 1),
                            self._operand_split(node.right, node.left, function, env, depth + 1)))
        if isinstance(node, cst.UnaryOperation):
            return self.split_of(node.expression, function, env, depth + 1)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
            # `[ids[i:i + n] for i in range(...)]`, `[tensor(d) for d in test_batches]`: the
            # element says which data it holds, or else the data iterated over.
            return self.split_of(node.elt, function, env, depth + 1) or \
                self.split_of(node.for_in.iter, function, env, depth + 1)
        return None

    def _operand_split(self, operand, other, function, env, depth: int) -> Optional[str]:
        """The split an operand of arithmetic lends the result. A name bound only to a statistic
        of the other operand (`raw_audio / max_val` after `max_val = np.max(np.abs(raw_audio))`)
        holds that data's split, whatever its own name says: `max_val` is the maximum value."""
        import libcst as cst

        if isinstance(operand, cst.Name) and split_of_name(operand.value):
            reduced = self._statistic_of(operand.value, other, function)
            if reduced is not None:
                found = self.split_of(reduced, function, env, depth)
                # The data's split when it has one; else an unambiguous name still tells
                # (`test_mean = x[n:].mean(0)`), but `val` beside a statistic is the value.
                if found is not None or _VALUE_WORD in name_tokens(operand.value):
                    return found
        return self.split_of(operand, function, env, depth)

    def _statistic_of(self, name: str, other, function):
        """The data `name` summarises, when every binding of it is a statistic over the rows of
        data that `other` reads (`np.max(np.abs(x))`, `x.mean(0)`); else None."""
        import libcst as cst

        if self.row_statistic is None:
            return None
        other_names = _plain_names(other)
        reduced = None
        for b in self.model.bindings_of(name, function):
            if b.kind != "assign" or b.index is not None or not isinstance(b.value, cst.Call):
                return None
            found = self.row_statistic(b.value)
            if found is None or not _plain_names(found[0]) & other_names:
                return None
            reduced = found[0]
        return reduced

    def _from_bindings(self, name: str, function, depth: int) -> Optional[str]:
        import libcst as cst

        found = []
        for b in self.model.bindings_of(name, function):
            if b.kind == "param":
                found.append(self._param_split(b, depth))
                continue
            if b.kind == "aug":
                continue
            value = b.value
            if b.index is not None:
                found.append(self._indexed(value, b.index, b.arity, b.function, depth))
            elif isinstance(value, cst.Call) and self._callee_last(value) == "split" and b.kind == "for":
                found.append(None)
            else:
                found.append(self.split_of(value, b.function, None, depth + 1))
        return combine(found) if all(found) or len(set(found) - {None}) == 1 else None

    def binding_split(self, binding) -> Optional[str]:
        """The split one binding gives its name (`x, y = next(iter(val_loader))`: val)."""
        if binding.index is not None:
            return self._indexed(binding.value, binding.index, binding.arity, binding.function, 1)
        return self.split_of(binding.value, binding.function, None, 1)

    def _param_split(self, binding, depth: int) -> Optional[str]:
        """A parameter holds evaluation data when every caller in the file passes some."""
        if self.arguments_of is None or depth > 4:
            return None
        arguments = self.arguments_of(binding.function, binding.target)
        splits = [self.split_of(arg, caller, None, depth + 2) for arg, caller in arguments]
        if splits and all(s in EVAL_SPLITS for s in splits):
            return VAL if VAL in splits else TEST
        if splits and all(s == TRAIN for s in splits):
            return TRAIN
        return None

    def _indexed(self, value, index: int, arity: Optional[int], function, depth: int) -> Optional[str]:
        import libcst as cst

        if isinstance(value, cst.Call):
            last = self._callee_last(value)
            if last in _SPLIT_FUNCTIONS:
                return position_split(last, index, arity)
            if last == "split" and isinstance(value.func, cst.Attribute):
                splitter = value.func.value
                ctor = splitter.func if isinstance(splitter, cst.Call) else None
                names = [self._callee_last(b.value) for b in self.model.bindings_of(
                    getattr(splitter, "value", ""), function) if isinstance(b.value, cst.Call)] \
                    if isinstance(splitter, cst.Name) else []
                if (ctor is not None and self._callee_last(splitter) in _CV_SPLITTERS) or \
                        any(n in _CV_SPLITTERS for n in names):
                    return [TRAIN, VAL][index] if index < 2 else None
            if last == "enumerate" and index == 1 and value.args:
                return self.split_of(value.args[0].value, function, None, depth + 1)
            if last == "zip" and index < len(value.args):
                return self.split_of(value.args[index].value, function, None, depth + 1)
            if last == "items" and index == 0 and isinstance(value.func, cst.Attribute):
                return None
            returned = self.returned_split(value, index, depth)
            if returned is not None:
                return returned
        if isinstance(value, (cst.Tuple, cst.List)):
            return None
        # `x, y = batch` / `for x, y in val_loader`: each element holds the source's split.
        return self.split_of(value, function, None, depth + 1)

    def returned_split(self, call, index: int, depth: int = 0) -> Optional[str]:
        """The split at position `index` of what a function of this file returns, when every
        `return` of it is a tuple of that data (`return train_loader, test_loader` read by
        `training_data, validation_data = prepare_dataloader(opt)` or `loaders[-1]`): the names
        and constructors inside the function say which split each position holds."""
        import libcst as cst

        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name) or depth > 6:
            return None
        infos = self.model.functions_named(call.func.value)
        if len(infos) != 1 or not infos[0].returns:
            return None
        found = set()
        for ret in infos[0].returns:
            value = ret.value
            if not isinstance(value, (cst.Tuple, cst.List)) or any(
                    isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            position = index + len(value.elements) if index < 0 else index
            if not 0 <= position < len(value.elements):
                return None
            found.add(self.split_of(value.elements[position].value, infos[0].node, None, depth + 1))
        return found.pop() if len(found) == 1 else None

    def _position_of_results(self, holder, index: int, function, depth: int) -> Optional[str]:
        """`holder[index]` where every binding of the name `holder` is a call of a function of
        this file that returns a tuple."""
        import libcst as cst

        if not isinstance(holder, cst.Name):
            return None
        bindings = self.model.bindings_of(holder.value, function)
        if not bindings or any(b.kind != "assign" or b.index is not None for b in bindings):
            return None
        found = {self.returned_split(b.value, index, depth) for b in bindings}
        return found.pop() if len(found) == 1 else None

    @staticmethod
    def _callee_last(call) -> Optional[str]:
        import libcst as cst

        func = call.func
        if isinstance(func, cst.Attribute):
            return func.attr.value
        if isinstance(func, cst.Name):
            return func.value
        return None

    def _call_split(self, call, function, env, depth) -> Optional[str]:
        import libcst as cst

        from auditor.analysis.own_split_flags import flag_split, phase_split
        from auditor.analysis.wrapper_datasets import wrapped_argument

        last = self._callee_last(call)
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if last in _CONCAT_CALLS:
            parts = positional[:1] if last != "append" else positional
            inner = []
            for part in parts:
                if isinstance(part, (cst.List, cst.Tuple)):
                    inner.extend(self.split_of(e.value, function, env, depth + 1) for e in part.elements)
                else:
                    inner.append(self.split_of(part, function, env, depth + 1))
            if last == "append" and isinstance(call.func, cst.Attribute):
                inner.append(self.split_of(call.func.value, function, env, depth + 1))
            return combine(inner)
        if last == "Subset" and len(positional) >= 2:
            return self.split_of(positional[1], function, env, depth + 1) or \
                self.split_of(positional[0], function, env, depth + 1)
        declared = flag_split(self.model, call) or phase_split(self.model, call) or \
            _declared_split(call, last, keywords)
        if declared:
            return declared
        wrapped = wrapped_argument(self.model, call) if isinstance(call.func, cst.Name) else None
        if wrapped is not None:  # `DatasetWrapper(test_set)`: a class of the file serving its rows
            return self.split_of(wrapped, function, env, depth + 1)
        if last in _PASS_THROUGH_CALLS:
            args = positional + [keywords[k] for k in ("dataset",) if k in keywords]
            if not args and isinstance(call.func, cst.Attribute):
                # The method form carries its receiver's rows: `it.next()`, `X_test.copy()`.
                return self.split_of(call.func.value, function, env, depth + 1)
            return combine(self.split_of(a, function, env, depth + 1) for a in args)
        if isinstance(call.func, cst.Attribute):
            receiver = call.func.value
            if last in ("transform", "fit_transform", "inverse_transform", "predict", "encode"):
                return self.split_of(positional[0], function, env, depth + 1) if positional else None
            own = self.split_of(receiver, function, env, depth + 1)
            if own:
                return own
            return None
        # An unknown helper (`make_loader(val_ds, ...)`, `get_split("valid")`): what its data says.
        args = positional + list(keywords.values())
        return combine(self.split_of(a, function, env, depth + 1) for a in args
                       if isinstance(a, (cst.Name, cst.Attribute, cst.Subscript, cst.SimpleString)))


def _integer(node) -> Optional[int]:
    """The value of an integer literal index (`2`, `-1`), or None."""
    import libcst as cst

    sign = 1
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        sign, node = -1, node.expression
    if not isinstance(node, cst.Integer):
        return None
    try:
        return sign * int(node.value.replace("_", ""), 0)
    except ValueError:  # `010` and the like
        return None


def _plain_names(node) -> set:
    """The bare names an expression reads (`raw_audio` of `np.abs(raw_audio)`)."""
    import libcst as cst

    from auditor.analysis.model import syntactic_children

    found, stack = set(), [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            found.add(current.value)
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)  # `x.T` reads `x`, not a name `T`
            continue
        else:
            stack.extend(syntactic_children(current))
    return found


def splits_of(model) -> SplitResolver:
    resolver = model.cache.get("splits")
    if resolver is None:
        resolver = model.cache["splits"] = SplitResolver(model)
    return resolver
