"""Fix builders for rules whose analysis lives elsewhere (TRN101, TRN102, TRN203, TRN301/302, TRN401).

Each takes the nodes the rule already found and returns a `Fix`, or None when the
code does not have the simple shape the fix needs: a fix is offered only where
it is certainly right in form (it compiles, it touches only the flagged code).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.debugging import debugging
from auditor.findings import Fix
from auditor.fixes.bindings import torch_bound_before
from auditor.fixes.edits import SAFE, UNSAFE, insert_after, insert_before, make_fix, owns_its_lines, parse_statement



def _guarded(builder: Callable[..., Optional[Fix]]) -> Callable[..., Optional[Fix]]:
    """A builder that fails offers no fix: it must never cost the rule its finding."""
    @functools.wraps(builder)
    def wrapper(*args: Any, **kwargs: Any) -> Optional[Fix]:
        try:
            return builder(*args, **kwargs)
        except Exception:  # noqa: BLE001 - any bug here only loses the fix
            if debugging():
                raise
            return None
    return wrapper
TRAINING_METHODS = ("backward", "step", "zero_grad")
ACTIVATIONS = {
    "softmax": (("torch.softmax", "torch.nn.functional.softmax"), "torch.nn.Softmax"),
    "sigmoid": (("torch.sigmoid", "torch.nn.functional.sigmoid"), "torch.nn.Sigmoid"),
}


# --- where evaluation code starts and ends ----------------------------------------------

def _inside(model, node: cst.CSTNode, container: cst.CSTNode) -> bool:
    return node is container or model.is_within(node, container)


def _is_training_call(call: cst.Call) -> bool:
    return isinstance(call.func, cst.Attribute) and call.func.attr.value in TRAINING_METHODS


def _trains(model, container: cst.CSTNode) -> bool:
    """Whether `container` holds a backward, a step or a zero_grad."""
    return any(_is_training_call(site.node) and _inside(model, site.node, container) for site in model.calls)


def evaluation_block(ctx: Any, forward: cst.Call) -> Optional[cst.CSTNode]:
    """The statement to treat as "the evaluation": the innermost loop around the forward pass
    if that loop does not train, else the forward's own statement; None if it trains too."""
    model = ctx.model
    statement = model.statement_of(forward)
    if statement is None:
        return None
    for ancestor in model.ancestors(forward):
        if isinstance(ancestor, cst.FunctionDef):
            break
        if isinstance(ancestor, (cst.For, cst.While)):
            if not _trains(model, ancestor):
                statement = ancestor
            break
    if _trains(model, statement) or not owns_its_lines(ctx, statement):
        return None
    return statement


# --- TRN102 -----------------------------------------------------------------------------

@_guarded
def no_grad_fix(ctx: Any, forward: cst.Call) -> Optional[Fix]:
    """Wrap the evaluation loop (or statement) in `with torch.no_grad():`. Safe: evaluation needs no graph."""
    block = evaluation_block(ctx, forward)
    if block is None:
        return None
    torch_name = torch_bound_before(ctx.model, block)
    if torch_name is None:
        return None  # `import torch` runs later (a notebook's later cell) or not at all: NameError
    if _contains(block, (cst.Yield, cst.Await)):
        return None  # a generator would hold the no_grad context across yields
    if _deferred(ctx.model, forward, block):
        return None  # the forward sits in a lambda: wrapping its definition disables nothing
    if _in_module_forward(ctx.model, forward):
        return None  # a layer's forward also runs in training: no_grad there would freeze the layer
    if _step_of_training_loop(ctx.model, block) or _feeds_backward(ctx.model, block):
        return None  # the forward of a training step: its output may reach the loss
    if _wants_gradients(ctx.model, block):
        return None  # under enable_grad, or beside autograd.grad: the graph is the point
    if _computes_with_other_framework(ctx.model, block):
        return None  # TensorFlow/JAX code: torch.no_grad does nothing there and adds a torch dependency
    if ctx.source.is_notebook and _bare_expression(block):
        return None  # a cell shows its last bare expression; inside `with` it would show nothing
    inner = block.with_changes(leading_lines=())
    wrapped = cst.With(
        items=[cst.WithItem(item=cst.parse_expression(f"{torch_name}.no_grad()"))],
        body=cst.IndentedBlock(body=[inner]),
        leading_lines=block.leading_lines,
    )
    # In a method of a subclass (an nn.Module's `forward_ctc`, `inst_eval`...) the callers may
    # train through it; the wrap is offered, but only as unsafe.
    applicability = UNSAFE if _in_subclass_method(ctx.model, forward) else SAFE
    return make_fix(ctx, "Wrap the evaluation in `with torch.no_grad():`", {block: wrapped}, applicability)


def _deferred(model, node: cst.CSTNode, block: cst.CSTNode) -> bool:
    """Whether `node` runs later than `block` does: inside a lambda (or a function) within it."""
    for ancestor in model.ancestors(node):
        if ancestor is block:
            return False
        if isinstance(ancestor, (cst.Lambda, cst.FunctionDef)):
            return True
    return False


def _step_of_training_loop(model, statement: cst.CSTNode) -> bool:
    """Whether `statement` lies directly in the body of a loop that trains (not under an `if`
    or a `with` of its own): the forward of the training step itself, as far as this can tell."""
    block = model.parent(statement)
    loop = model.parent(block) if block is not None else None
    return isinstance(loop, (cst.For, cst.While)) and loop.body is block and _trains(model, loop)


def _in_subclass_method(model, node: cst.CSTNode) -> bool:
    """Whether `node` is in a function defined in the body of a class that has base classes."""
    function = model.enclosing_function(node)
    body = model.parent(function) if function is not None else None
    owner = model.parent(body) if body is not None else None
    return isinstance(owner, cst.ClassDef) and bool(owner.bases)


class _Reads(cst.CSTVisitor):
    """The plain names an expression reads."""

    def __init__(self) -> None:
        self.names: set = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _names(node: cst.CSTNode) -> set:
    reads = _Reads()
    node.visit(reads)
    return reads.names


class _Assignments(cst.CSTVisitor):
    """(targets, value) of every assignment, and every backward call, in source order."""

    def __init__(self) -> None:
        self.assignments: list = []
        self.backwards: list = []

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assignments.append((set().union(*(_names(t.target) for t in node.targets)), node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.assignments.append((_names(node.target), node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.assignments.append((_names(node.target), node.value))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("backward", "manual_backward"):
            self.backwards.append(node)


def _feeds_backward(model, block: cst.CSTNode) -> bool:
    """Whether a name the block assigns reaches a `backward()` in the innermost loop around it,
    or, outside any loop, in its function (through assignments there): then the block is the
    forward of a training step, e.g. of a helper that trains or evaluates by a flag
    (`if train: loss.backward()`), whose evaluation path alone was reported."""
    function = model.enclosing_function(block)
    loop = next((a for a in model.ancestors(block) if isinstance(a, (cst.For, cst.While))), None)
    if loop is None or model.enclosing_function(loop) is not function:
        loop = function
    if loop is None:
        return False
    found = _Assignments()
    block.visit(found)
    tainted = set().union(*(targets for targets, _ in found.assignments)) if found.assignments else set()
    if not tainted:
        return False
    in_loop = _Assignments()
    loop.visit(in_loop)
    for _ in range(2):  # a second pass catches names assigned before they are read
        for targets, value in in_loop.assignments:
            if _names(value) & tainted:
                tainted |= targets
    return any(_names(call) & tainted for call in in_loop.backwards)


GRAD_CONTEXTS = ("enable_grad", "set_grad_enabled")


def _wants_gradients(model, block: cst.CSTNode) -> bool:
    """Whether `block` runs under `torch.enable_grad()` / `set_grad_enabled(...)`, or its
    function takes gradients itself (`torch.autograd.grad`): classifier guidance, saliency."""
    for ancestor in model.ancestors(block):
        if isinstance(ancestor, cst.With) and any(
                isinstance(item.item, cst.Call) and
                (dotted_name(item.item.func) or "").rsplit(".", 1)[-1] in GRAD_CONTEXTS
                for item in ancestor.items):
            return True
    function = model.enclosing_function(block)
    return function is not None and any(
        (site.callee or "").endswith("autograd.grad") for site in model.calls_in(function))


OTHER_FRAMEWORKS = ("tensorflow", "keras", "jax", "flax")


def _computes_with_other_framework(model, block: cst.CSTNode) -> bool:
    """Whether `block` calls TensorFlow, Keras or JAX (`tf.argmax(outputs.logits)`): the forward
    it holds is then, by what is done with its output, not a PyTorch model's."""
    return any((site.qualname or "").split(".")[0] in OTHER_FRAMEWORKS and _inside(model, site.node, block)
               for site in model.calls)


def _bare_expression(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
        and isinstance(statement.body[0], cst.Expr)


def _in_module_forward(model, node: cst.CSTNode) -> bool:
    """Whether `node` is in a class's `forward` method, which callers may run to train."""
    function = model.enclosing_function(node)
    return function is not None and function.name.value == "forward" and \
        any(isinstance(a, cst.ClassDef) for a in model.ancestors(function))


def _contains(node: cst.CSTNode, kinds: tuple) -> bool:
    """Whether `node` holds one of `kinds`, not counting nested functions and classes."""
    found: list = []

    class _Find(cst.CSTVisitor):
        def on_visit(self, child: cst.CSTNode) -> bool:
            if isinstance(child, kinds):
                found.append(child)
            return not found and (child is node or not isinstance(child, (cst.FunctionDef, cst.Lambda,
                                                                             cst.ClassDef)))

    node.visit(_Find())
    return bool(found)


# --- TRN101 -----------------------------------------------------------------------------

@_guarded
def eval_mode_fix(ctx: Any, forward: cst.Call, key: str) -> Optional[Fix]:
    """Insert `key.eval()` before the evaluation and `key.train()` after it when training follows.

    Unsafe: it changes what the model computes during evaluation (that is the point),
    and a model meant to stay in eval mode after an evaluate() helper is not restored.
    """
    model = ctx.model
    block = evaluation_block(ctx, forward)
    try:
        if block is None or dotted_name(cst.parse_expression(key)) != key:
            return None
    except cst.ParserSyntaxError:
        return None
    # Put eval() before a `with torch.no_grad():` that holds exactly this evaluation.
    parent_block = model.parent(block)
    owner = model.parent(parent_block) if parent_block is not None else None
    if isinstance(owner, cst.With) and isinstance(parent_block, cst.IndentedBlock) \
            and len(parent_block.body) == 1 and owns_its_lines(ctx, owner):
        block = owner
    before = [parse_statement(ctx, f"{key}.eval()\n")]
    after = [parse_statement(ctx, f"{key}.train()\n")] if _training_follows(model, block) else []
    if after and _contains(block, (cst.Return,)):
        return None  # the restore would never run
    change = insert_before(block, before)
    if after:
        statements = list(change.nodes)
        change = cst.FlattenSentinel([*statements[:-1], *insert_after(statements[-1], after).nodes])
    return make_fix(ctx, f"Call `{key}.eval()` before evaluating" + (f" and `{key}.train()` after" if after else ""),
                    {block: change}, UNSAFE)


def _training_follows(model, block: cst.CSTNode) -> bool:
    """Training later in the same function, or in a loop around the block (its next iteration)."""
    function = model.enclosing_function(block)
    order = {id(site.node): index for index, site in enumerate(model.calls)}
    inside = [order[id(s.node)] for s in model.calls if _inside(model, s.node, block)]
    last = max(inside) if inside else -1
    loops = [a for a in model.ancestors(block) if isinstance(a, (cst.For, cst.While))
             and model.enclosing_function(a) is function]
    for index, site in enumerate(model.calls):
        if site.function is not function or not _is_training_call(site.node) or _inside(model, site.node, block):
            continue
        if index > last or any(_inside(model, site.node, loop) for loop in loops):
            return True
    return False


# --- TRN203 -----------------------------------------------------------------------------

@_guarded
def no_shuffle_fix(ctx: Any, call: cst.Call, positional_index: Optional[int] = 2) -> Optional[Fix]:
    """`shuffle=True` -> `shuffle=False` when the literal is in the call itself. Safe."""
    target = None
    plain = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "shuffle":
            target = arg.value
    if target is None and positional_index is not None and positional_index < len(plain):
        target = plain[positional_index].value
    if not (isinstance(target, cst.Name) and target.value == "True"):
        return None
    return make_fix(ctx, "Use `shuffle=False` for evaluation data", {target: target.with_changes(value="False")}, SAFE)


# --- TRN301 / TRN302 --------------------------------------------------------------------

def _activation_input(model, node: cst.BaseExpression, activation: str) -> Optional[cst.BaseExpression]:
    """`x` for `F.softmax(x, dim=1)`, `x.softmax(1)`, `torch.softmax(x, 1)`, `nn.Softmax(1)(x)`."""
    if not isinstance(node, cst.Call):
        return None
    functions, layer = ACTIVATIONS[activation]
    qualified = model.imports.qualify(node.func)
    if matches(qualified, *functions):
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "input":
                return arg.value
        plain = [a for a in node.args if a.keyword is None and not a.star]
        return plain[0].value if plain else None
    if isinstance(node.func, cst.Attribute) and node.func.attr.value == activation and qualified is None:
        return node.func.value
    if isinstance(node.func, cst.Call) and matches(model.imports.qualify(node.func.func), layer) \
            and len(node.args) == 1 and node.args[0].keyword is None:
        return node.args[0].value
    return None


@_guarded
def remove_activation_fix(ctx: Any, loss_call: cst.Call, first: cst.BaseExpression,
                          activation: str = "softmax") -> Optional[Fix]:
    """Pass the logits to the loss instead of the activation's output. Unsafe: the loss value changes."""
    model = ctx.model
    logits = _activation_input(model, first, activation)
    if logits is None and isinstance(first, cst.Name):
        function = model.enclosing_function(loss_call)
        bindings = [b for b in model.bindings.get(first.value, []) if b.function is function]
        if len(bindings) == 1:
            logits = _activation_input(model, bindings[0].value, activation)
            # Only a plain name that nothing rebinds in this function can move to the loss call.
            if not isinstance(logits, cst.Name) or \
                    len([b for b in model.bindings.get(logits.value, []) if b.function is function]) > 1:
                return None
    if logits is None:
        return None
    replacement = logits.with_changes(lpar=[], rpar=[]) if isinstance(logits, cst.Name) else logits
    return make_fix(ctx, f"Pass the logits, not the {activation} output, to the loss",
                    {first: replacement}, UNSAFE)


# --- TRN401 -----------------------------------------------------------------------------

def accumulation_steps(loop: cst.CSTNode, condition: Optional[cst.If]) -> Optional[cst.BaseExpression]:
    """k in `if (i + 1) % k == 0:` or in `for micro in range(k):`."""
    if condition is not None:
        found: list[cst.BaseExpression] = []

        class _Modulo(cst.CSTVisitor):
            def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
                if isinstance(node.operator, cst.Modulo):
                    found.append(node.right)

        condition.test.visit(_Modulo())
        return found[0] if len(found) == 1 else None
    if isinstance(loop, cst.For) and isinstance(loop.iter, cst.Call) and dotted_name(loop.iter.func) == "range" \
            and len(loop.iter.args) == 1 and loop.iter.args[0].keyword is None:
        return loop.iter.args[0].value
    return None


@_guarded
def divide_loss_fix(ctx: Any, operand: Optional[cst.BaseExpression], steps: Optional[cst.BaseExpression]) \
        -> Optional[Fix]:
    """`loss.backward()` -> `(loss / k).backward()`. Unsafe: gradients (and the effective lr) change."""
    if operand is None or steps is None:
        return None
    divisor = steps
    if isinstance(divisor, (cst.BinaryOperation, cst.BooleanOperation, cst.IfExp)) and not divisor.lpar:
        divisor = divisor.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    left = operand
    if isinstance(left, (cst.BinaryOperation, cst.BooleanOperation, cst.IfExp)) and not left.lpar:
        left = left.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    divided = cst.BinaryOperation(left=left, operator=cst.Divide(), right=divisor)
    parent = ctx.model.parent(operand)
    if isinstance(parent, cst.Attribute) and parent.value is operand:  # `(loss / k).backward()`
        divided = divided.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    shown = ctx.module.code_for_node(steps)
    return make_fix(ctx, f"Divide the loss by the accumulation steps (`{shown}`) before backward",
                    {operand: divided}, UNSAFE)
