"""Mutation operators: each plants one kind of training bug into correct real code.

An operator finds its sites in a parsed module (the `.eval()` calls, the `zero_grad()` calls,
the `with torch.no_grad():` blocks, ...) and rewrites one site at a time into the bug a rule
is written to catch. A rule that stays silent on a mutant shows where the program model loses
track of real code; the mutant is "equivalent" (no bug) only when the removed call was
redundant, which the reviewer of a survivor decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from benchmarks.mutations.split_swap import may_have_val_to_test_sites, val_to_test_sites
from benchmarks.mutations.leak_operators import (plan_fit_before_split, plan_fit_moved_before_split, plan_fit_on_test,
                                                   plan_refit_on_test)


@dataclass(frozen=True)
class Site:
    line: int
    node: cst.CSTNode  # a node of the module the site was found in (matched by identity)
    rewrite: Optional[Callable[[cst.CSTNode], object]] = None  # this site's own rewrite, if any


@dataclass(frozen=True)
class Operator:
    name: str
    rules: tuple  # the rules expected to report the planted bug
    description: str
    is_site: Callable[[cst.CSTNode], bool]
    rewrite: Callable[[cst.CSTNode], object]  # the replacement: a node, or a FlattenSentinel
    wanted_text: Sequence[str] = ()  # the repository must mention one of these (else no sites)
    # operators whose sites depend on the surrounding code (which variable a split made) name
    # them from the whole module: (node, rewrite of that node) pairs, in place of is_site/rewrite
    plan: Optional[Callable[[cst.Module], list]] = None
    file_may_have_sites: Optional[Callable[[str], bool]] = None  # a cheap test on a file's text before parsing it
    # the site plants a bug only in such an enclosing function (None: module level)
    in_function: Optional[Callable[[Optional[cst.FunctionDef], cst.CSTNode], bool]] = None


def _call_attr(node: cst.CSTNode) -> Optional[str]:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value
    return None


def _dotted(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _lone_call(node: cst.CSTNode) -> Optional[cst.Call]:
    """The call of a statement line that is only that call (`model.eval()`)."""
    if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
        expr = node.body[0]
        if isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call):
            return expr.value
    return None


def _is_false(arg: cst.Arg) -> bool:
    return isinstance(arg.value, cst.Name) and arg.value.value == "False"


def _is_eval_call(node: cst.CSTNode) -> bool:
    call = _lone_call(node)
    if call is None:
        return False
    attr = _call_attr(call)
    if attr == "eval":
        return not call.args
    return attr == "train" and len(call.args) == 1 and _is_false(call.args[0])


def _is_train_call(node: cst.CSTNode) -> bool:
    call = _lone_call(node)
    if call is None or _call_attr(call) != "train":
        return False
    return not call.args or (len(call.args) == 1 and _dotted(call.args[0].value) == "True")


def _is_zero_grad_call(node: cst.CSTNode) -> bool:
    call = _lone_call(node)
    return call is not None and _call_attr(call) == "zero_grad"


_NO_GRAD_CONTEXTS = ("no_grad", "inference_mode")


def _is_no_grad_context(expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call):
        return False
    last = _dotted(expr.func).rsplit(".", 1)[-1]
    if last in _NO_GRAD_CONTEXTS:
        return True
    return last == "set_grad_enabled" and len(expr.args) == 1 and _is_false(expr.args[0])


def _is_no_grad_block(node: cst.CSTNode) -> bool:
    return (isinstance(node, cst.With) and isinstance(node.body, cst.IndentedBlock)
            and len(node.items) == 1 and _is_no_grad_context(node.items[0].item))


def _is_no_grad_decorated(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.FunctionDef) and any(
        _is_no_grad_context(d.decorator) or _dotted(d.decorator).rsplit(".", 1)[-1] in _NO_GRAD_CONTEXTS
        for d in node.decorators)


def _is_loss_division(node: cst.CSTNode) -> bool:
    """`loss = loss / k` or `loss /= k` with k not a number written in the code."""
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return False
    stmt = node.body[0]
    if isinstance(stmt, cst.AugAssign) and isinstance(stmt.operator, cst.DivideAssign):
        return isinstance(stmt.target, cst.Name) and not isinstance(stmt.value, (cst.Integer, cst.Float))
    if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, cst.BinaryOperation):
        target, value = stmt.targets[0].target, stmt.value
        return (isinstance(target, cst.Name) and isinstance(value.operator, cst.Divide)
                and isinstance(value.left, cst.Name) and value.left.value == target.value
                and not isinstance(value.right, (cst.Integer, cst.Float)))
    return False


def _divided_loss_back_propagated(function: Optional[cst.FunctionDef], node: cst.CSTNode) -> bool:
    """The divided name is back-propagated later in the same function, and the divisor is an
    accumulation window (its text says so, or the function tests a counter modulo it): other
    divisions (a per-pixel mean, a batch-size normalisation, a metric) plant no TRN401 bug."""
    if function is None:
        return False
    stmt = node.body[0]
    name = (stmt.target if isinstance(stmt, cst.AugAssign) else stmt.targets[0].target).value
    divisor = _CODE.code_for_node(stmt.value if isinstance(stmt, cst.AugAssign) else stmt.value.right)
    text = _CODE.code_for_node(function)
    after = text[text.find(_CODE.code_for_node(node).strip()):]
    name_re = re.escape(name)
    backward = re.search(rf"\b{name_re}\)*\.backward\(|backward\(\s*{name_re}\b|scale\(\s*{name_re}\s*\)", after)
    window = "accum" in divisor.lower() or f"% {divisor}" in text or f"%{divisor}" in text
    return backward is not None and window


_CODE = cst.Module(body=[])


def _forward_with_plain_returns(node: cst.CSTNode) -> bool:
    if not (isinstance(node, cst.FunctionDef) and node.name.value == "forward"):
        return False
    returns = _returns_of(node)
    return bool(returns) and all(_wrappable(r.value) for r in returns)


def _wrappable(value: Optional[cst.BaseExpression]) -> bool:
    return value is not None and not isinstance(value, (cst.Tuple, cst.Dict, cst.List, cst.Name)) \
        or isinstance(value, cst.Name) and value.value not in ("None", "True", "False")


def _returns_of(function: cst.FunctionDef) -> list:
    """The function's own return statements (not those of nested functions or classes)."""
    found = []

    class Collect(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Return(self, node: cst.Return) -> None:
            found.append(node)

    function.visit(Collect())
    return found


def _activate_returns(method: str) -> Callable[[cst.CSTNode], object]:
    def rewrite(function: cst.FunctionDef) -> cst.FunctionDef:
        targets = {id(r) for r in _returns_of(function)}

        class Wrap(cst.CSTTransformer):
            def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
                if id(original) not in targets:
                    return updated
                value = updated.value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
                args = [cst.Arg(cst.UnaryOperation(cst.Minus(), cst.Integer("1")), keyword=cst.Name("dim"),
                                 equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))] if method == "softmax" else []
                call = cst.Call(func=cst.Attribute(value=value, attr=cst.Name(method)), args=args)
                return updated.with_changes(value=call)

        return function.visit(Wrap())
    return rewrite


def _shuffle_false(call: cst.Call) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "shuffle" and _is_false(arg):
            return arg
    return None


def _is_unshuffled_loader(node: cst.CSTNode) -> bool:
    """A loader built with `shuffle=False` (not `train_test_split(..., shuffle=False)`)."""
    return isinstance(node, cst.Call) and "loader" in _dotted(node.func).rsplit(".", 1)[-1].lower() \
        and _shuffle_false(node) is not None


def _shuffle_on(call: cst.Call) -> cst.Call:
    target = _shuffle_false(call)
    return call.with_changes(args=[arg.with_changes(value=cst.Name("True")) if arg is target else arg
                                   for arg in call.args])


def _pass_line(node: cst.CSTNode) -> cst.SimpleStatementLine:
    # `pass` in place of the removed statement keeps every block non-empty.
    return node.with_changes(body=[cst.Pass()])


def _unwrap_block(node: cst.With) -> cst.FlattenSentinel:
    return cst.FlattenSentinel(list(node.body.body))


def _drop_no_grad_decorators(node: cst.FunctionDef) -> cst.FunctionDef:
    kept = [d for d in node.decorators if not (
        _is_no_grad_context(d.decorator) or _dotted(d.decorator).rsplit(".", 1)[-1] in _NO_GRAD_CONTEXTS)]
    return node.with_changes(decorators=kept)


def _replacing(find: Callable[[cst.Module], list]) -> Callable[[cst.Module], list]:
    """A plan from (node, its replacement) pairs."""
    return lambda module: [(node, lambda _updated, new=new: new) for node, new in find(module)]


def _planned(node: cst.CSTNode):
    raise AssertionError("a planned operator's sites carry their own rewrite")


OPERATORS = {op.name: op for op in (
    Operator("drop-eval", ("TRN101",), "remove a `model.eval()` / `.train(False)` statement",
             _is_eval_call, _pass_line),
    Operator("drop-train", ("TRN103",), "remove a `model.train()` statement",
             _is_train_call, _pass_line),
    Operator("drop-zero-grad", ("TRN403",), "remove a `zero_grad()` statement",
             _is_zero_grad_call, _pass_line),
    Operator("drop-no-grad", ("TRN102",), "run a `with torch.no_grad():` block's body without it",
             _is_no_grad_block, _unwrap_block),
    Operator("drop-no-grad-decorator", ("TRN102",), "remove a `@torch.no_grad()` decorator",
             _is_no_grad_decorated, _drop_no_grad_decorators),
    Operator("drop-loss-division", ("TRN401",), "remove `loss = loss / k` (k not a literal)",
             _is_loss_division, _pass_line, wanted_text=("accum",), in_function=_divided_loss_back_propagated),
    Operator("softmax-forward", ("TRN301", "TRN303"), "end a module's `forward` in `.softmax(dim=-1)`",
             _forward_with_plain_returns, _activate_returns("softmax"),
             wanted_text=("CrossEntropyLoss", "cross_entropy")),
    Operator("sigmoid-forward", ("TRN302",), "end a module's `forward` in `.sigmoid()`",
             _forward_with_plain_returns, _activate_returns("sigmoid"),
             wanted_text=("BCEWithLogitsLoss", "binary_cross_entropy_with_logits")),
    Operator("shuffle-loader", ("TRN203",), "turn a loader's `shuffle=False` into `shuffle=True`",
             _is_unshuffled_loader, _shuffle_on),
    Operator("val-to-test", ("TRN204",), "read the test data where a loop that trains reads the validation data",
             _planned, _planned, wanted_text=("test",), plan=_replacing(val_to_test_sites),
             file_may_have_sites=may_have_val_to_test_sites),
    # The catalog gives a fit on the whole of data split ABOVE it to TRN201 (it mixes the
    # evaluation rows in), and a fit ABOVE the split to TRN202: either rule catches fit-on-whole.
    Operator("fit-on-whole", ("TRN201", "TRN202"),
             "a transformer's fit reads the variable that was split instead of its training part",
             _planned, _planned, wanted_text=("fit",), plan=plan_fit_before_split),
    Operator("fit-before-split", ("TRN202",),
             "a transformer's fit on a training part is moved above the split and made on the whole data",
             _planned, _planned, wanted_text=("fit",), plan=plan_fit_moved_before_split),
    Operator("fit-on-test", ("TRN201",),
             "a transformer's fit reads the test/validation part of the split instead of the training part",
             _planned, _planned, wanted_text=("fit",), plan=plan_fit_on_test),
    Operator("refit-on-test", ("TRN201",),
             "`transformer.transform(test part)` after a fit becomes `fit_transform(test part)`",
             _planned, _planned, wanted_text=("fit",), plan=plan_refit_on_test),
)}


def find_sites(module: cst.Module, operator: Operator) -> list:
    """The operator's sites in `module`, in source order."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    if operator.plan is not None:
        planned = operator.plan(module)  # (node, rewrite[, the node whose line names the site])
        return sorted((Site(positions[p[2] if len(p) > 2 else p[0]].start.line, p[0], p[1]) for p in planned),
                      key=lambda site: site.line)
    sites = []
    functions = []  # the enclosing function definitions, innermost last

    class Find(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.FunctionDef):
                functions.append(node)
            if operator.is_site(node) and (operator.in_function is None or operator.in_function(
                    functions[-1] if functions else None, node)):
                sites.append(Site(positions[node].start.line, node))
            return True

        def on_leave(self, original_node: cst.CSTNode) -> None:
            if isinstance(original_node, cst.FunctionDef):
                functions.pop()

    module.visit(Find())
    return sites


def mutate(module: cst.Module, operator: Operator, site: Site) -> str:
    """The module's source with `site` rewritten by `operator`."""
    class Rewrite(cst.CSTTransformer):
        def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
            if original is site.node:
                return (site.rewrite or operator.rewrite)(updated)
            return updated

    return module.visit(Rewrite()).code
