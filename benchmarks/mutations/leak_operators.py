"""Leakage operators: plant a preprocessing leak where correct code splits, then fits on train.

Correct code splits its data (`train_test_split`, a row slice, a KFold index, a split column)
and fits its scaler/encoder/imputer/vectorizer/PCA on the training part. The planted bugs:

- fit-before-split (TRN202): the fit reads the variable that was split instead of its training
  part, so the transformer's statistics include the validation/test rows;
- fit-on-test (TRN201): the fit reads the test/validation part made by the same split;
- refit-on-test (TRN201): `transformer.transform(test part)` after a fit becomes
  `fit_transform(test part)`, the form real authors write it in.

Each plan returns (node, rewrite) pairs for `operators.find_sites`. The planting uses the
variables' names to tell the training part from the test part; that is fine for an operator
(it plants a bug where the code itself says which part is which), never for a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

FIT_METHODS = ("fit", "fit_transform", "partial_fit")
_TRANSFORMER = re.compile(
    r"scal|encod|imput|vectori|pca|svd|normali|tfidf|transformer|discretiz|binariz|selector|"
    r"selectkbest|polynomial|quantile|whiten|standardi", re.IGNORECASE)
_TRAIN_TOKENS = {"train", "tr", "trn", "training", "fit"}
_TEST_TOKENS = {"test", "te", "tst", "val", "valid", "validation", "dev", "eval", "holdout"}


def _dotted(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr.value}" if inner else ""
    return ""


def _role(name: str) -> Optional[str]:
    tokens = set(re.split(r"[_.\d]+|(?<=[a-z])(?=[A-Z])", name.rsplit(".", 1)[-1]))
    tokens = {t.lower() for t in tokens if t}
    if tokens & _TRAIN_TOKENS:
        return "train"
    if tokens & _TEST_TOKENS:
        return "test"
    return None


@dataclass
class Part:
    name: str
    role: str
    source: Optional[cst.BaseExpression]  # the expression that was split (None: unknown)
    split_id: int  # parts made by the same split share it
    line: int


def _is_column_pick(sub: cst.Subscript) -> bool:
    """`df['col']`, `df[['a', 'b']]`, `x[:, :-1]`: a column selection, not a row split."""
    first = sub.slice[0].slice
    if len(sub.slice) >= 2 and isinstance(first, cst.Slice) and first.lower is None and first.upper is None:
        return True
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return False
    value = sub.slice[0].slice.value
    if isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return True
    return isinstance(value, cst.List) and all(isinstance(e.value, cst.SimpleString) for e in value.elements)


def _row_source(value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The split variable of a row selection (`X[:n]`, `df.iloc[idx]`, `df[df.split == 'train']`)."""
    if not isinstance(value, cst.Subscript) or _is_column_pick(value):
        return None
    base = value.value
    if isinstance(base, cst.Attribute) and base.attr.value in ("iloc", "loc"):
        base = base.value
    return base if _dotted(base) else None


class _Scopes(cst.CSTVisitor):
    """The split parts and the transformer calls of each function (and of the module body)."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        self.stack: list = [[]]  # per scope: list of Part
        self.calls: list = []  # (call node, parts visible at it)
        self.fitted: set = set()  # receivers (dotted text) with a fit call somewhere in the module
        self.splits = 0

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append([])

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target, value, line = node.targets[0].target, node.value, self._line(node)
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Call):
            self._split_call(target, value, line)
            return
        name = _dotted(target)
        role = _role(name) if name else None
        source = _row_source(value)
        if source is not None and _dotted(source).split(".")[0] == name.split(".")[0] and "." not in name:
            source = None  # `x = x.values[idx]`: the same data narrowed, not a split
        if role and source is not None:
            self.splits += 1  # parts of one source in one scope count as one split
            same = [p for p in self.stack[-1] if p.source is not None and p.source.deep_equals(source)]
            split_id = same[0].split_id if same else self.splits
            self.stack[-1].append(Part(name, role, source, split_id, line))

    def _split_call(self, target, call: cst.Call, line: int) -> None:
        callee = _dotted(call.func).rsplit(".", 1)[-1].lower()
        if "split" not in callee:
            return
        arrays = [a.value for a in call.args if a.keyword is None and not a.star]
        names = [_dotted(e.value) for e in target.elements]
        if not arrays or len(names) != 2 * len(arrays) or not all(names):
            return
        self.splits += 1
        for i, name in enumerate(names):
            self.stack[-1].append(Part(name, "train" if i % 2 == 0 else "test", arrays[i // 2], self.splits, line))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in FIT_METHODS + ("transform",):
            if node.func.attr.value in FIT_METHODS:
                self.fitted.add(_dotted(node.func.value))
            visible = [p for p in self.stack[-1] if p.line < self._line(node)]
            self.calls.append((node, visible))


def _is_transformer(receiver: cst.BaseExpression, module_text: str) -> bool:
    if isinstance(receiver, cst.Call):
        return bool(_TRANSFORMER.search(_dotted(receiver.func)))
    name = _dotted(receiver)
    if not name:
        return False
    if _TRANSFORMER.search(name.rsplit(".", 1)[-1]):
        return True
    # `sc = StandardScaler()` somewhere in the module
    built = re.search(rf"\b{re.escape(name)}\s*=\s*([\w.]+)\(", module_text)
    return bool(built and _TRANSFORMER.search(built.group(1)))


def _latest(parts: list) -> dict:
    """name -> the part that last assigned it."""
    return {p.name: p for p in parts}


class _Replace(cst.CSTTransformer):
    """Replaces the outermost dotted names of `swaps` (text -> expression)."""

    def __init__(self, swaps: dict) -> None:
        self.swaps = swaps

    def on_leave(self, original, updated):
        if isinstance(original, (cst.Name, cst.Attribute)) and _dotted(original) in self.swaps:
            return self.swaps[_dotted(original)].deep_clone()
        return updated

    def on_visit(self, node) -> bool:
        # an attribute whose whole text is swapped is replaced at its leave; do not swap its prefix
        return not (isinstance(node, (cst.Name, cst.Attribute)) and _dotted(node) in self.swaps)


def _names_in(args) -> list:
    found = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node) -> bool:
            name = _dotted(node) if isinstance(node, (cst.Name, cst.Attribute)) else ""
            if name:
                found.append(name)
                return False
            return True

    for arg in args:
        arg.value.visit(Collect())
        # `self.x_train.values`: the prefixes of an attribute chain are read too
        for name in list(found):
            while "." in name:
                name = name.rsplit(".", 1)[0]
                found.append(name)
    return found


def _swap_args(swaps: dict) -> Callable[[cst.Call], cst.Call]:
    def rewrite(call: cst.Call) -> cst.Call:
        return call.with_changes(args=[a.with_changes(value=a.value.visit(_Replace(swaps))) for a in call.args])
    return rewrite


def _scan(module: cst.Module) -> _Scopes:
    scopes = _Scopes()
    MetadataWrapper(module, unsafe_skip_copy=True).visit(scopes)
    return scopes


def _fit_calls(module: cst.Module):
    scopes = _scan(module)
    text = module.code
    for call, parts in scopes.calls:
        if call.func.attr.value in FIT_METHODS and call.args and _is_transformer(call.func.value, text):
            yield call, _latest(parts)


def plan_fit_before_split(module: cst.Module) -> list:
    """Fits that read a training part: read the variable that was split instead."""
    sites = []
    for call, parts in _fit_calls(module):
        swaps = {}
        for name in _names_in(call.args):
            part = parts.get(name)
            if part and part.role == "train" and part.source is not None:
                swaps[name] = part.source
        if swaps:
            sites.append((call, _swap_args(swaps)))
    return sites


_TRAIN_KEY = re.compile(r"""^(['"])train\1$""")


def _test_sibling(part: Part, parts: dict) -> Optional[Part]:
    """The test/validation part of the split that made `part` (train_test_split's next target)."""
    siblings = [p for p in parts.values() if p.split_id == part.split_id and p.role == "test"]
    if not siblings:
        return None
    if part.source is not None:
        same_source = [p for p in siblings if p.source is not None and p.source.deep_equals(part.source)]
        siblings = same_source or siblings
    return siblings[0]


def plan_fit_on_test(module: cst.Module) -> list:
    """Fits that read a training part: read the test part of the same split instead
    (also `X['train']` -> `X['test']` where the code reads a 'test' key)."""
    sites = []
    has_test_key = bool(re.search(r"""\[\s*(['"])test\1\s*\]""", module.code))
    for call, parts in _fit_calls(module):
        swaps = {}
        for name in _names_in(call.args):
            part = parts.get(name)
            sibling = _test_sibling(part, parts) if part and part.role == "train" else None
            if sibling is not None:
                swaps[name] = cst.parse_expression(sibling.name)
        if swaps:
            sites.append((call, _swap_args(swaps)))
        elif has_test_key and len(call.args) == 1 and _TRAIN_KEY.search(_first_key(call) or ""):
            sites.append((call, _key_to_test))
    return sites


def _first_key(call: cst.Call) -> Optional[str]:
    value = call.args[0].value
    if isinstance(value, cst.Subscript) and len(value.slice) == 1 and isinstance(value.slice[0].slice, cst.Index):
        key = value.slice[0].slice.value
        if isinstance(key, cst.SimpleString):
            return key.value
    return None


def _key_to_test(call: cst.Call) -> cst.Call:
    value = call.args[0].value
    index = value.slice[0].slice
    key = index.value.with_changes(value=index.value.value.replace("train", "test"))
    new_value = value.with_changes(slice=[value.slice[0].with_changes(slice=index.with_changes(value=key))])
    return call.with_changes(args=[call.args[0].with_changes(value=new_value), *call.args[1:]])


def plan_refit_on_test(module: cst.Module) -> list:
    """`t.transform(test part)` of a transformer fitted elsewhere: `t.fit_transform(test part)`."""
    scopes = _scan(module)
    text = module.code
    sites = []
    for call, parts in scopes.calls:
        if call.func.attr.value != "transform" or not call.args:
            continue
        receiver = call.func.value
        if _dotted(receiver) not in scopes.fitted or not _is_transformer(receiver, text):
            continue
        parts = _latest(parts)
        names = _names_in(call.args[:1])
        key = _first_key(call) or ""
        test = any((parts.get(n) and parts[n].role == "test") or _role(n) == "test" for n in names) \
            or bool(re.search(r"test|val", key))
        if test:
            sites.append((call, _to_fit_transform))
    return sites


def _to_fit_transform(call: cst.Call) -> cst.Call:
    return call.with_changes(func=call.func.with_changes(attr=cst.Name("fit_transform")))


def _split_parts(statement: cst.CSTNode) -> dict:
    """name -> source for the training parts a statement line splits off
    (`X_tr, X_te, y_tr, y_te = train_test_split(X, y)`, `train = df[:n]`)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return {}
    assign = statement.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return {}
    target, value = assign.targets[0].target, assign.value
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Call):
        if "split" not in _dotted(value.func).rsplit(".", 1)[-1].lower():
            return {}
        arrays = [a.value for a in value.args if a.keyword is None and not a.star]
        names = [_dotted(e.value) for e in target.elements]
        if not arrays or len(names) != 2 * len(arrays) or not all(names):
            return {}
        return {name: arrays[i // 2] for i, name in enumerate(names) if i % 2 == 0}
    name = _dotted(target)
    source = _row_source(value)
    if not name or source is None or _role(name) != "train" or \
            (_dotted(source).split(".")[0] == name.split(".")[0] and "." not in name):
        return {}
    return {name: source}


def _assigned(statement: cst.CSTNode) -> set:
    names = set()
    if isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else \
                [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else []
            for target in targets:
                elements = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
                names.update(_dotted(e) for e in elements if _dotted(e))
    elif not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        names.add("<compound>")  # a loop or branch in between: leave the site alone
    return names


def _fit_of(statement: cst.CSTNode, text: str) -> Optional[cst.Call]:
    """The transformer fit a statement line consists of (`sc.fit(X)`, `X = sc.fit_transform(X)`)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    call = small.value if isinstance(small, (cst.Expr, cst.Assign)) else None
    if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
            call.func.attr.value in FIT_METHODS and call.args and _is_transformer(call.func.value, text):
        return call
    return None


def plan_fit_moved_before_split(module: cst.Module) -> list:
    """A fit on a training part, moved above the split and made on the data that was split:
    `X = sc.fit_transform(X)` (the fit's target was the part) or `sc.fit(X)` then
    `sc.transform(part)` where the fit was (the way such code is written)."""
    text = module.code
    sites = []

    class Blocks(cst.CSTVisitor):
        def visit_Module(self, node: cst.Module) -> None:
            _plan_block(node, list(node.body), text, sites)

        def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
            _plan_block(node, list(node.body), text, sites)

    module.visit(Blocks())
    return sites


def _plan_block(block, body: list, text: str, sites: list) -> None:
    for j, statement in enumerate(body):
        call = _fit_of(statement, text)
        if call is None:
            continue
        read = set(_names_in(call.args))
        for i in range(j - 1, -1, -1):
            parts = _split_parts(body[i])
            swaps = {name: source for name, source in parts.items() if name in read}
            if not swaps:
                if _assigned(body[i]) & read:
                    break  # the fit reads something else made here
                continue
            receiver = _dotted(call.func.value) if not isinstance(call.func.value, cst.Call) else ""
            moved, ok = [], True
            for k in range(i + 1, j):
                assigned = _assigned(body[k])
                if receiver and receiver in assigned:
                    moved.append(k)  # the transformer is built between the split and the fit
                elif assigned & (read - set(swaps)):
                    ok = False
            if ok:
                sites.append((block, _move_fit(i, j, moved, swaps), statement))
            break


def _move_fit(i: int, j: int, moved: list, swaps: dict):
    def rewrite(block):
        body = list(block.body)
        statement = body[j]
        small = statement.body[0]
        call = small.value
        whole = call.with_changes(args=[a.with_changes(value=a.value.visit(_Replace(swaps))) for a in call.args])
        target = _dotted(small.targets[0].target) if isinstance(small, cst.Assign) and len(small.targets) == 1 else ""
        if target in swaps and call.func.attr.value == "fit_transform":
            # `X_train = sc.fit_transform(X_train)` -> `X = sc.fit_transform(X)` above the split
            early = statement.with_changes(body=[small.with_changes(
                targets=[small.targets[0].with_changes(target=swaps[target].deep_clone())], value=whole)])
            late = statement.with_changes(body=[cst.Pass()])
        else:
            fit = whole.with_changes(func=whole.func.with_changes(attr=cst.Name("fit")))
            if call.func.attr.value == "fit_transform" or isinstance(call.func.value, cst.Call):
                fit_stmt = cst.SimpleStatementLine(body=[cst.Expr(fit)])
                if isinstance(call.func.value, cst.Call):  # `StandardScaler().fit(X_train)`: name it
                    fit_stmt = cst.SimpleStatementLine(body=[cst.Assign(
                        targets=[cst.AssignTarget(cst.Name("_planted_scaler"))], value=fit)])
                    late_call = call.with_changes(func=call.func.with_changes(
                        value=cst.Name("_planted_scaler"), attr=cst.Name("transform")))
                    late = statement.with_changes(body=[small.with_changes(value=late_call)]) \
                        if isinstance(small, cst.Assign) and call.func.attr.value == "fit_transform" else \
                        statement.with_changes(body=[small.with_changes(value=cst.Name("_planted_scaler"))])
                else:
                    late = statement.with_changes(body=[small.with_changes(
                        value=call.with_changes(func=call.func.with_changes(attr=cst.Name("transform"))))])
                early = fit_stmt
            else:
                early = statement.with_changes(body=[small.with_changes(value=whole)])
                late = statement.with_changes(body=[cst.Pass()])
        new_body = body[:i] + [body[k] for k in moved] + [early] + \
            [s for k, s in enumerate(body[i:j], start=i) if k not in moved] + [late] + body[j + 1:]
        return block.with_changes(body=new_body)
    return rewrite
