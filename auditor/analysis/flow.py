"""Context along every path: each model's mode and the grad mode at every call.

A small abstract interpreter over the statements of each function (and of the
module body). A state holds the mode of each model name (`train`, `eval`, or `?`
when unknown), the grad mode (`on`, `off`, `?`), constants bound by literal loops
(`for phase in ("train", "val")`) and the branch conditions assumed on this path,
so that `if phase == "train": model.train()` and a later `if phase == "train":
loss.backward()` stay consistent. States are kept per path (deduplicated, capped).

- Loops run twice: what the end of one epoch leaves is the start of the next.
- Helpers in the same file are summarised by their effect on their parameters'
  modes (`export(model)` calling `model.eval()` leaves the caller's model in eval).
- A function's entry context is the union of the contexts at its call sites in the
  file (or the project); with no known caller, models are `?` (stay silent) and grad
  is on, the interpreter's default.

`states_at(call)` then lists the states in which each call can run; rules ask it.

Internal tables are keyed by the nodes themselves: a node hashes and compares by
identity, in C once auditor has imported libcst (`auditor.speed.libcst_import`), through
libcst's own Python-level methods otherwise (slower, same answers). Node kinds are
tested by exact type (`type(x) is cst.Call`) rather than `isinstance`, which is a
Python-level ABC check for libcst's classes; every class tested so has no subclasses.
"""

from __future__ import annotations

import re
from bisect import bisect_right, insort
from typing import Any, Iterable, Optional

import libcst as cst

from auditor.analysis.library_builders import built_by_library, external_evaluator_arguments
from auditor.analysis.module_methods import SELF_RETURNING
from auditor.analysis.factories import factory_of
from auditor.analysis.model import CallSite, FileModel, FunctionInfo
from auditor.analysis.wrapped_models import thin_wrapper_of
from auditor.analysis.names import dotted_name, matches, resolve_import
from auditor.analysis.held_calls import init_modes
from auditor.analysis.named_methods import library_object, named_method
from auditor.analysis.wrapper_methods import project_wrapper_method
from auditor.analysis.roles import (NOT_MODEL_CLASS_PARTS, Roles, is_lightning_class, model_constructor,
                                     other_framework_model, roles_of)
from auditor.analysis.uses import source_order

TRAIN, EVAL, UNKNOWN = "train", "eval", "?"
ON, OFF = "on", "off"
MAX_STATES = 32
MAX_EVAL_DEPTH = 64  # nested operators evaluate() follows before it answers unknown
GRAD_OFF_CONTEXTS = ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                     "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode")
GRAD_ON_CONTEXTS = ("torch.enable_grad", "torch.autograd.enable_grad")
SET_GRAD = ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled")
# Lightning runs these hooks with the model in eval mode and autograd off.
LIGHTNING_EVAL_HOOKS = {"validation_step", "test_step", "predict_step", "on_validation_epoch_end",
                        "on_test_epoch_end", "validation_epoch_end", "test_epoch_end", "on_validation_batch_end",
                        "on_test_batch_end", "on_predict_batch_end"}
LIGHTNING_TRAIN_HOOKS = {"training_step"}


class State:
    """What one path knows: model modes, grad mode, constants and branch conditions.

    Immutable by convention (every `with_*` returns a new state). A plain slotted class
    rather than a frozen dataclass: the interpreter creates and hashes states on every
    statement of every path, and a frozen dataclass pays for `object.__setattr__` per
    field and recomputes its hash each time it is deduplicated.
    """

    __slots__ = ("modes", "grad", "env", "facts", "_hash")

    def __init__(self, modes: tuple = (), grad: str = ON, env: tuple = (), facts: tuple = ()) -> None:
        self.modes = modes  # sorted (key, mode) pairs
        self.grad = grad
        self.env = env  # sorted (name, value): a str/bool/int constant or a CST node
        self.facts = facts  # sorted (condition code, bool)
        self._hash: Optional[int] = None

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not State:
            return NotImplemented
        return self.grad == other.grad and self.modes == other.modes and self.env == other.env \
            and self.facts == other.facts

    def __hash__(self) -> int:
        value = self._hash
        if value is None:
            value = self._hash = hash((self.modes, self.grad, self.env, self.facts))
        return value

    def __repr__(self) -> str:
        return f"State(modes={self.modes!r}, grad={self.grad!r}, env={self.env!r}, facts={self.facts!r})"

    def mode(self, key: str) -> Optional[str]:
        """The mode of `key`, or of the nearest enclosing module (`model` for `model.encoder`)."""
        probe = key
        while True:
            for k, m in self.modes:
                if k == probe:
                    return m
            if "." not in probe:
                return None
            probe = probe.rsplit(".", 1)[0]

    # The `with_*` methods keep their tuples sorted by inserting into the sorted rest
    # (keys are unique within a tuple, so this is the order `sorted` gave).
    def with_mode(self, key: str, mode: str) -> "State":
        # Setting `model` also sets its submodules `model.x` tracked separately.
        prefix = key + "."
        kept = [pair for pair in self.modes if pair[0] != key and not pair[0].startswith(prefix)]
        insort(kept, (key, mode))
        return State(tuple(kept), self.grad, self.env, self.facts)

    def without_mode(self, key: str) -> "State":
        return State(tuple((k, m) for k, m in self.modes if k != key), self.grad, self.env, self.facts)

    def with_grad(self, grad: str) -> "State":
        return self if grad == self.grad else State(self.modes, grad, self.env, self.facts)

    def without_constants(self) -> "State":
        """Modes and grad only: what is kept when there are too many paths to follow."""
        return State(self.modes, self.grad)

    @property
    def env_dict(self) -> dict:
        return dict(self.env)

    def with_env(self, name: str, value: Any) -> "State":
        env = self.env
        for index, pair in enumerate(env):
            if pair[0] == name:
                if pair[1] is value:
                    return self
                env = env[:index] + env[index + 1:]
                break
        else:
            if value is _DROP:
                return self
        if value is not _DROP:
            # By name only (values need not compare; bisect's key= needs Python 3.10).
            position = bisect_right([pair[0] for pair in env], name)
            env = env[:position] + ((name, value),) + env[position:]
        return State(self.modes, self.grad, env, self.facts)

    def with_fact(self, code: str, value: bool) -> "State":
        kept = [pair for pair in self.facts if pair[0] != code]
        insort(kept, (code, value))
        return State(self.modes, self.grad, self.env, tuple(kept))

    def fact(self, code: str) -> Optional[bool]:
        for k, v in self.facts:
            if k == code:
                return v
        return None


# A condition that holds for a whole call or run, not per iteration: a flag (`train`,
# `self.training`, `not is_eval`) or a name compared with a literal (`phase == "train"`,
# `self.optimizer is not None`). Facts about these can tell two paths apart; a fact about
# `step % 50 == 0` cannot (the interpreter keeps it from one loop iteration to the next).
_FLAG_FACT = re.compile(r"""^(?:not\s+)?[A-Za-z_][\w.]*(?:\s*(?:==|!=|is not|is)\s*"""
                        r"""(?:'[^']*'|"[^"]*"|True|False|None))?$""")


def loaded_in_eval_mode(model: FileModel, value: cst.BaseExpression) -> bool:
    """`AutoModelForSequenceClassification.from_pretrained(...)` (possibly `.to(device)`):
    transformers returns loaded models in eval mode, dropout off until `.train()`."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and \
            value.func.attr.value in ("to", "cuda", "cpu", "float", "half", "bfloat16", "double"):
        value = value.func.value
    if type(value) is not cst.Call:
        return False
    qualified = model.qualify_call(value) or ""
    if not (qualified.startswith("transformers.") and qualified.endswith(".from_pretrained")):
        return False
    loaded = qualified.rsplit(".", 2)[-2]
    return not any(part in loaded for part in NOT_MODEL_CLASS_PARTS) and not other_framework_model(model, value)


def after(targets: tuple, where: Any, prior: Any) -> tuple:
    """A pending mode: what a function of another module, one of `targets` ((module,
    function) pairs), leaves its parameter at `where` (position or keyword) in, the mode
    having been `prior`. Neither TRAIN nor EVAL for the rules: only the project index reads it."""
    depth, inner = 0, prior
    while type(inner) is tuple:
        depth, inner = depth + 1, inner[3]
    # A loop hands the model on again each round: past a few calls, say unknown.
    return ("after", targets, where, prior if depth < 4 else UNKNOWN)


def same_path(state: State, other: State) -> bool:
    """Whether `other` can lie on the path `state` is on: no constant bound to different
    values (`phase` is "train" in one, "val" in the other; a name one of them no longer
    knows, rebound since, is no disagreement) and no flag assumed true in one and false in
    the other."""
    if state.env and other.env and state.env != other.env:
        theirs = dict(other.env)
        for name, value in state.env:
            seen = theirs.get(name, _DROP)
            if seen is not _DROP and seen is not value and not (
                    type(seen) is type(value) and cst.CSTNode not in type(value).__mro__ and seen == value):
                return False
    # A flag bound by the caller in one (`run_epoch(..., True)`: `train` is True) and assumed
    # the other way in the other (`if train:` taken false).
    if (state.env and other.facts and _constant_contradicts(state.env, other.facts)) or \
            (other.env and state.facts and _constant_contradicts(other.env, state.facts)):
        return False
    if not state.facts or not other.facts:
        return True
    theirs = dict(other.facts)
    for code, value in state.facts:
        seen = theirs.get(code)
        if seen is not None and seen != value and _FLAG_FACT.match(code):
            return False
    return True


def _constant_contradicts(env: tuple, facts: tuple) -> bool:
    """A bare flag (`train`, `not train`) assumed to be what its constant is not."""
    bound = dict(env)
    for code, value in facts:
        negated = code.startswith("not ")
        name = code[4:].strip() if negated else code
        if name in bound and isinstance(bound[name], (bool, type(None), int, str)):
            if bool(bound[name]) != (value != negated):
                return True
    return False


_DROP = object()
_UNSET = object()  # a memo's answer not computed yet (None is an answer)


class Flow:
    """The states leaving a statement: falling through, by return, break or continue."""

    __slots__ = ("normal", "returns", "breaks", "continues")

    def __init__(self, normal: Optional[list] = None, returns: Optional[list] = None,
                 breaks: Optional[list] = None, continues: Optional[list] = None) -> None:
        self.normal = [] if normal is None else normal
        self.returns = [] if returns is None else returns
        self.breaks = [] if breaks is None else breaks
        self.continues = [] if continues is None else continues


def _dedupe(states: Iterable[State]) -> list[State]:
    if type(states) is list and len(states) < 2:
        return states[:]  # a fresh list, as below: callers extend what they get
    out = list(dict.fromkeys(states))  # first occurrences, in order
    if len(out) > MAX_STATES:
        # Too many paths: forget conditions and constants, keep what matters (modes, grad).
        out = list({s.without_constants(): None for s in out})[:MAX_STATES]
    return out


def _word_count(model: FileModel, name: str) -> int:
    """How often `name` occurs as a whole word in the file's code; counted once per name and
    file (every flow of the file asks about the same functions)."""
    counts = model.cache.get("word_counts")
    if counts is None:
        counts = model.cache["word_counts"] = {}
    count = counts.get(name)
    if count is None:
        text = model.cache.get("source_text")
        if text is None:
            text = model.cache["source_text"] = model.module.code
        count = counts[name] = len(re.findall(r"\b%s\b" % re.escape(name), text))
    return count


_CONSTANT_NAMES = {"True": True, "False": False, "None": None}


def _constant(node: cst.BaseExpression) -> Any:
    kind = type(node)  # exact types: libcst's classes are ABCs, isinstance costs a Python call
    if kind is cst.SimpleString:
        try:
            value = node.evaluated_value
        except (SyntaxError, ValueError):  # libcst parses escapes CPython refuses ("\N{NOPE}", b'é')
            return _DROP
        return value if isinstance(value, str) else _DROP
    if kind is cst.Name and node.value in _CONSTANT_NAMES:
        return _CONSTANT_NAMES[node.value]
    if kind is cst.Integer:
        if not node.value.isdigit():
            return _DROP
        try:
            return int(node.value)
        except ValueError:  # past sys.get_int_max_str_digits() (4,300 digits)
            return _DROP
    return _DROP


def _always_false(test: cst.BaseExpression) -> bool:
    """A literal false test (`False`, `0`, `None`): the assertion always fails."""
    if type(test) is cst.Name:
        return test.value in ("False", "None")
    return type(test) is cst.Integer and test.value == "0"


def evaluate(node: Optional[cst.BaseExpression], state: State, depth: int = 0) -> Any:
    """The constant value of a simple expression under the state's constants, else _DROP.

    Unknown (_DROP) past MAX_EVAL_DEPTH nested operators: a bound, not a stack overflow."""
    if node is None or depth > MAX_EVAL_DEPTH:
        return _DROP
    kind = type(node)
    if kind is cst.Name:
        name = node.value
        if name in _CONSTANT_NAMES:
            return _CONSTANT_NAMES[name]
        for k, v in state.env:
            if k == name and cst.CSTNode not in type(v).__mro__:  # (no ABC isinstance)
                return v
        return _DROP
    if kind is cst.SimpleString or kind is cst.Integer:
        return _constant(node)
    if kind is cst.UnaryOperation and type(node.operator) is cst.Not:
        negations = 0  # `not not ... a`: counted in a loop, not one frame per `not`
        while type(node) is cst.UnaryOperation and type(node.operator) is cst.Not:
            node, negations = node.expression, negations + 1
        inner = evaluate(node, state, depth + 1)
        if inner is _DROP:
            return _DROP
        return (not inner) if negations % 2 else bool(inner)
    if kind is cst.Comparison and len(node.comparisons) == 1:
        left = evaluate(node.left, state, depth + 1)
        target = node.comparisons[0]
        right = evaluate(target.comparator, state, depth + 1)
        op = target.operator
        if type(op) in (cst.In, cst.NotIn) and left is not _DROP and \
                type(target.comparator) in (cst.Tuple, cst.List, cst.Set):
            values = [evaluate(e.value, state, depth + 1) for e in target.comparator.elements]
            if _DROP in values:
                return _DROP
            return (left in values) if type(op) is cst.In else (left not in values)
        if left is _DROP or right is _DROP:
            return _DROP
        if type(op) in (cst.Equal, cst.Is):
            return left == right
        if type(op) in (cst.NotEqual, cst.IsNot):
            return left != right
        return _DROP
    if kind is cst.BooleanOperation:
        # `a and b and c ...`: the operands of one operator, gathered without recursion
        # (a chain thousands long compiles); a nested different operator recurses, bounded.
        op_type = type(node.operator)
        operands, pending = [], [node]
        while pending:
            current = pending.pop()
            if type(current) is cst.BooleanOperation and type(current.operator) is op_type:
                pending.append(current.right)
                pending.append(current.left)
            else:
                operands.append(current)
        values = [evaluate(operand, state, depth + 1) for operand in operands]
        if op_type is cst.And:
            if any(v is False for v in values):
                return False
            return _DROP if any(v is _DROP for v in values) else all(bool(v) for v in values)
        if any(v is True for v in values):
            return True
        return _DROP if any(v is _DROP for v in values) else any(bool(v) for v in values)
    if kind is cst.Call and type(node.func) is cst.Attribute and \
            node.func.attr.value == "startswith" and node.args:
        receiver, prefix = evaluate(node.func.value, state, depth + 1), evaluate(node.args[0].value, state, depth + 1)
        if isinstance(receiver, str) and isinstance(prefix, str):
            return receiver.startswith(prefix)
    return _DROP


def _may_have_value(node: cst.BaseExpression) -> bool:
    """False when `evaluate` answers _DROP for `node` in every state, by its kind alone
    (calls, attributes, arithmetic...): the interpreter then skips asking per path."""
    kind = type(node)
    if kind is cst.Name or kind is cst.SimpleString or kind is cst.Integer or kind is cst.Comparison \
            or kind is cst.BooleanOperation:
        return True
    if kind is cst.UnaryOperation:
        return type(node.operator) is cst.Not
    if kind is cst.Call:
        return type(node.func) is cst.Attribute and node.func.attr.value == "startswith" and bool(node.args)
    return False


def _body_statements(block: cst.BaseSuite) -> list[cst.CSTNode]:
    return list(block.body)


class FlowAnalysis:
    """Runs the interpreter over every function of a file; see module docstring."""

    def __init__(self, model: FileModel, project: Any = None, module_name: Optional[str] = None,
                 previous: Optional["FlowAnalysis"] = None, opaque: Optional[dict] = None) -> None:
        """`previous`: an earlier analysis of the same model (without the project), whose
        memos that do not depend on entry states this one takes over. `opaque`: calls of
        functions of other modules (call -> its (module, function) candidates) that may switch
        the models handed to them: after one, such a model's mode is a pending one, `after()`,
        that the project resolves from the callee's summary (phase 1 reads summaries' calls so)."""
        self.model = model
        self._opaque = opaque or {}
        self._project_effects: dict = {}  # call -> what `_project_effect` answered
        self.roles: Roles = roles_of(model)
        self.project = project
        self.module_name = module_name
        self._visits: dict[cst.Call, list[State]] = {}  # call -> states it runs in
        self.entry: dict[cst.FunctionDef, list[State]] = {}
        self.callers: dict[cst.FunctionDef, list[State]] = {}  # callee -> entry states from call sites
        # callee -> the function making each call of `callers` (None: module level), in step
        self._calling_functions: dict[cst.FunctionDef, list[Optional[cst.FunctionDef]]] = {}
        self._effects: dict[cst.FunctionDef, Optional[dict[str, frozenset]]] = {}  # (None: running)
        self._setters: Optional[set[cst.FunctionDef]] = None
        self._recording = False
        self._current: Optional[cst.FunctionDef] = None
        # Memos keyed by node (see the module docstring).
        self._resolved: dict[cst.Call, Optional[tuple]] = {}  # call -> resolve's answer
        self._named_receivers: dict[cst.Call, str] = {}  # call resolved by its method's name -> receiver
        self._assign_plans: dict[cst.BaseExpression, tuple] = {}  # target -> plan
        self._call_plans: dict[cst.Call, tuple] = {}
        self._if_plans: dict[cst.If, tuple] = {}
        self._statement_calls: dict[cst.CSTNode, list[CallSite]] = model.statement_calls
        self._setters_acyclic = False
        self._globals: dict[tuple, bool] = {}  # (name, function) -> it reads the module-level name
        self._loop_entries: dict[cst.CSTNode, list[State]] = {}  # loop -> states entering it
        self._training_loops: Optional[set] = None  # loops holding a backward or optimizer step
        self._aliases: Optional[dict] = None  # method -> {local name: the `self.x` it holds}
        self._unswitched: Optional[dict[str, str]] = None
        if previous is not None and previous.model is model:
            self._take_memos(previous)

    def _take_memos(self, previous: "FlowAnalysis") -> None:
        # Plans and resolutions are functions of the tree alone. Effects are computed from
        # an unknown entry, whatever the callers: they depend only on which effects runs
        # were under way when a recursion guard answered, and with no recursion among the
        # functions that set modes no guard ever answers (see `_mode_setters`).
        self._resolved = dict(previous._resolved)
        self._named_receivers = dict(previous._named_receivers)
        # (Not the assignment plans: whether a value builds a model may need the project.)
        self._call_plans = dict(previous._call_plans)
        self._if_plans = dict(previous._if_plans)
        if previous._setters is not None and (self.project is None or previous.project is not None):
            self._setters, self._setters_acyclic = previous._setters, previous._setters_acyclic
            if self._setters_acyclic:
                self._effects = dict(previous._effects)

    # -- driver --------------------------------------------------------------------------
    def run(self) -> "FlowAnalysis":
        self._recording = True
        self._current = None
        # Models imported by name from a module whose top level trains them (exit_modes.py).
        module_flow = self._exec_block(list(self.model.module.body), [State(modes=self._imported_modes())])
        del module_flow
        for function in self._order():
            self._current = function
            states = self._entry_states(function)
            self.entry[function] = states
            self._exec_block(_body_statements(function.body), states)
        self._current = None
        return self

    def run_imported(self, statements: list) -> list[State]:
        """The states leaving `statements` of the top level (what an importer sees)."""
        self._current = None
        return self._exec_block(statements, [State()]).normal

    def _imported_modes(self) -> tuple:
        from auditor.analysis.exit_modes import imported_modes

        return imported_modes(self.model, self.project, self.module_name)

    def _order(self) -> list[cst.FunctionDef]:
        """Functions, callers before callees where the call graph allows."""
        infos = list(self.model.function_info.values())
        callees: dict[cst.FunctionDef, set] = {i.node: set() for i in infos}
        for info in infos:
            for site in info.calls:
                resolved = self.resolve(site)
                if resolved is not None and resolved[0] in callees and resolved[0] is not info.node:
                    callees[info.node].add(resolved[0])
        indegree = {f: 0 for f in callees}
        for f, targets in callees.items():
            for t in targets:
                indegree[t] += 1
        ready = [f for f, d in indegree.items() if d == 0]
        order: list[cst.FunctionDef] = []
        done: set = set()
        while len(order) < len(callees):
            if not ready:  # a cycle: take the first remaining one
                ready = [next(f for f in callees if f not in done)]
            f = ready.pop(0)
            if f in done:
                continue
            done.add(f)
            order.append(f)
            for t in callees[f]:
                indegree[t] -= 1
                if indegree[t] <= 0 and t not in done:
                    ready.append(t)
        return order

    def _entry_states(self, function: cst.FunctionDef) -> list[State]:
        info = self.model.function_info[function]
        if info.cls is not None and (is_lightning_class(self.model, info.cls) or "training_step" in info.cls.methods
                                     or info.cls.name == "LightningModule"):
            if info.name in LIGHTNING_EVAL_HOOKS:
                return [State(modes=(("self", EVAL),), grad=OFF)]
            if info.name in LIGHTNING_TRAIN_HOOKS:
                return [State(modes=(("self", TRAIN),), grad=ON)]
        if info.cls is not None and info.name in LIGHTNING_EVAL_HOOKS and \
                any(base.rsplit(".", 1)[-1] == "Callback" for base in info.cls.bases):
            # A Lightning callback's validation hooks run inside the Trainer's loop: the
            # module in eval mode, autograd off (its mode: the Trainer's, not tracked here).
            return [State(grad=OFF)]
        # A helper called both in its own file and from other modules (`evaluate()` wrapping
        # `run_classification()`, which a script of another module also calls): every caller's
        # context is a way in, not only those of the file.
        states = _dedupe(self._live_callers(function) + self._project_entry(info))
        if states:
            # A model never switched anywhere is in training mode whatever the callers knew.
            for key, mode in self._unswitched_entry(info):
                states = [st if st.mode(key) is not None else st.with_mode(key, mode) for st in states]
        else:
            states = [State(modes=self._unswitched_entry(info), grad=ON if info.parent is None else UNKNOWN)]
        decorated = _decorated_grad(self.model, info)
        if decorated is not None:
            states = [s.with_grad(decorated) for s in states]
        return _dedupe(states)

    def _live_callers(self, function: cst.FunctionDef) -> list[State]:
        """The entry states of the function's callers in this file, less those from dead code
        when live code calls it too: a leftover wrapper that nothing calls or names
        (`def predict_args(a): predict(*a)`) says nothing about how `predict` runs."""
        states = self.callers.get(function, [])
        dead = [self._is_dead_function(caller) for caller in self._calling_functions.get(function, [])]
        if any(dead) and not all(dead):
            return [state for state, is_dead in zip(states, dead) if not is_dead]
        return states

    def _is_dead_function(self, function: Optional[cst.FunctionDef]) -> bool:
        """A top-level function that nothing in the file calls or names, that no other module
        calls and that no decorator registers (a command, a route, a hook)."""
        if function is None:
            return False
        info = self.model.function_info[function]
        if info.parent is not None or info.cls is not None or info.decorators or self.callers.get(function):
            return False
        if self._project_entry(info):
            return False
        return _word_count(self.model, info.name) == 1

    def _project_entry(self, info: FunctionInfo) -> list[State]:
        if self.project is None or self.module_name is None or not hasattr(self.project, "call_contexts"):
            return []
        contexts = self.project.call_contexts(self.module_name, info.qualname)
        states = []
        for grad, arg_modes in contexts:
            modes = []
            for index, mode in arg_modes.items():
                if isinstance(index, int) and index < len(info.positional):
                    modes.append((info.positional[index], mode))
                elif isinstance(index, str) and index in info.params:
                    modes.append((index, mode))  # `evaluate(model=net, ...)`
            # `MCTS(network).search(...)` from another module: the attributes holding its arguments.
            modes += init_modes(self.model, info, arg_modes)
            states.append(State(modes=tuple(sorted(modes)), grad=grad))
        return _dedupe(states)

    # -- function effects ------------------------------------------------------------------
    def effects(self, function: cst.FunctionDef) -> dict[str, frozenset]:
        """For each parameter (or `self...`) the modes it can have when the function returns.

        `?` in the set means "unchanged on some path". Computed with an unknown entry.
        """
        if function in self._effects:
            return self._effects[function] or {}
        if function not in self._mode_setters():
            self._effects[function] = {}  # nothing it runs can set a mode: no need to run it
            return {}
        self._effects[function] = None  # recursion guard
        saved = (self._recording, self._current)
        self._recording, self._current = False, function
        info = self.model.function_info[function]
        flow = self._exec_block(_body_statements(function.body),
                                [State(grad=_decorated_grad(self.model, info) or UNKNOWN)])
        self._recording, self._current = saved
        exits = flow.normal + flow.returns
        result: dict[str, frozenset] = {}
        keys = {k for s in exits for k, _ in s.modes}
        for key in keys:
            head = key.split(".", 1)[0]
            if head not in info.params and not self._global_of(head, function) and \
                    not (info.parent is not None and self._closure_of(head, function, info.parent)):
                continue
            modes = frozenset(s.mode(key) or UNKNOWN for s in exits)
            if modes != {UNKNOWN}:
                result[key] = modes
        self._effects[function] = result
        return result

    def return_states(self, function: cst.FunctionDef) -> list[State]:
        """The states leaving the function by `return`, from an unknown entry."""
        saved = (self._recording, self._current)
        self._recording, self._current = False, function
        info = self.model.function_info[function]
        flow = self._exec_block(_body_statements(function.body),
                                [State(grad=_decorated_grad(self.model, info) or UNKNOWN)])
        self._recording, self._current = saved
        return flow.returns

    def _project_return(self, call: cst.Call) -> Optional[tuple]:
        """What a function of another module of the project returns (returned_models.py)."""
        site = self.model.call_site.get(call)
        if site is None or site.qualname is None or not self.module_name or self.project is None \
                or not hasattr(self.project, "get") or site.qualname.startswith(("torch.", "numpy.")):
            return None
        target = resolve_import(self.module_name, site.qualname)
        summary = self.project.get(target[0]) if target is not None else None
        return (getattr(summary, "returned_models", None) or {}).get(target[1]) if summary is not None else None

    def sets_modes(self, function: cst.FunctionDef) -> bool:
        """The function (or one it calls in this file) may switch a model's mode."""
        return function in self._mode_setters()

    def _mode_setters(self) -> set[cst.FunctionDef]:
        """Each function whose run can give a name a mode: it calls `.train()` or
        `.eval()`, builds a model, or calls a function of the file that can.

        Any other function starts its effects run with no modes and never gains one, so
        its effects are empty whichever function asked first: `effects` answers that
        without running it. (Those functions only call others of their kind, so the
        effects runs that remain start in the same order, with the same recursion guards.)
        """
        if self._setters is not None:
            return self._setters
        model = self.model
        callers_of: dict[cst.FunctionDef, list[cst.FunctionDef]] = {}
        direct: list[cst.FunctionDef] = []
        for function, info in model.function_info.items():
            sets_a_mode = False
            for site in info.calls:
                plan = self._call_plans.get(site.node)
                if plan is None:
                    plan = self._call_plans[site.node] = self._plan_call(site)
                if plan[0] == "call":
                    callers_of.setdefault(plan[1], []).append(function)
                # model_constructor answers None unless the callee is imported or a local class.
                if not sets_a_mode and (plan[0] == "mode" or (
                        (site.qualname is not None or site.callee in model.class_info)
                        and model_constructor(model, site.node) is not None)):
                    sets_a_mode = True
                if not sets_a_mode and plan[0] == "none" and self.project is not None and site.receiver is not None:
                    # `model.val_start()` switching a wrapper of another module (project effects).
                    effect = self._project_effects.get(site.node, _UNSET)
                    if effect is _UNSET:
                        effect = self._project_effects[site.node] = self._project_effect(site)
                    sets_a_mode = effect is not None
            if sets_a_mode:
                direct.append(function)
        setters: set[cst.FunctionDef] = set()
        pending = direct
        while pending:
            function = pending.pop()
            if function not in setters:
                setters.add(function)
                pending.extend(callers_of.get(function, ()))
        self._setters = setters
        self._setters_acyclic = _acyclic(setters, callers_of)
        return setters

    # -- globals ------------------------------------------------------------------------------
    def _global_of(self, name: str, function: Optional[cst.FunctionDef]) -> bool:
        """`name` in `function` is the module-level variable: bound at module level, and
        neither a parameter nor bound anywhere in the function (nor its enclosing ones)."""
        memo = self._globals.get((name, function))
        if memo is None:
            found = self.model.bindings.get(name, ())
            memo = any(b.function is None for b in found)
            scope = function
            while memo and scope is not None:
                info = self.model.function_info.get(scope)
                if info is None or name in info.params or any(b.function is scope for b in found):
                    memo = False
                    break
                scope = info.parent
            self._globals[(name, function)] = memo
        return memo

    def _shared_global(self, head: str, callee: cst.FunctionDef, bindings: dict) -> bool:
        """Whether `head`, as the running scope sees it, is the global the callee reads, or
        (a function nested in the running one) the running function's own variable it reads."""
        if head == "self" or head in bindings:
            return False
        if self._current is not None and (self._closure_of(head, callee, self._current)
                                          or self._sibling_closure(head, callee, self._current)):
            return True
        if not self._global_of(head, callee):
            return False
        return self._current is None or self._global_of(head, self._current)

    def _sibling_closure(self, name: str, callee: cst.FunctionDef, current: cst.FunctionDef) -> bool:
        """`callee` and the running function are both nested in one function and both read its
        variable `name` (`def _train_epoch(): model.train()` and `def _eval_epoch():
        model.eval()` inside `main`, where `model` is built): the same object in both."""
        info = self.model.function_info.get(callee)
        outer = info.parent if info is not None else None
        if outer is None or outer is current or not self._closure_of(name, callee, outer):
            return False
        found = self.model.bindings.get(name, ())
        scope: Optional[cst.FunctionDef] = current
        while scope is not None and scope is not outer:
            scope_info = self.model.function_info.get(scope)
            if scope_info is None or name in scope_info.params or any(b.function is scope for b in found):
                return False  # the running function has its own `name`
            scope = scope_info.parent
        return scope is outer

    def _closure_of(self, name: str, callee: cst.FunctionDef, outer: cst.FunctionDef) -> bool:
        """`callee`, defined in `outer`, reads `outer`'s variable `name` (`def evaluate():
        model(x)` inside `main`, where `model` is built): the same object in both."""
        info = self.model.function_info.get(callee)
        if info is None or info.parent is not outer or name in info.params:
            return False
        found = self.model.bindings.get(name, ())
        return not any(b.function is callee for b in found) and \
            (name in self.model.function_info[outer].params or any(b.function is outer for b in found))

    def _never_switched(self) -> dict[str, str]:
        """Models built fresh (so in training mode) at module level, or as `self.x` in a
        method, that no call of the file ever switches to eval mode (`.train()` keeps the mode
        they have) or hands to another function: their mode is training in every function,
        called from this file or not."""
        if self._unswitched is not None:
            return self._unswitched
        model = self.model
        built: dict[str, str] = {}
        # (function, local name) -> the `self.x` it was built for (`model = Net(); self.model = model`)
        locals_of: dict[tuple, str] = {}
        for name, found in model.bindings.items():
            if "." in name and not name.startswith("self."):
                continue
            if name.startswith("self.") and name.count(".") != 1:
                continue
            values = [b for b in found if b.kind == "assign" and b.index is None and
                      (b.function is None if "." not in name else b.function is not None)]
            if not values or len(values) != len(found):
                continue
            held = []
            for b in values:
                if self.fresh_model(b.value):
                    continue
                local = self._fresh_local(b) if "." in name else None
                if local is None:
                    break
                held.append((b.function, local))
            else:
                built[name] = TRAIN
                locals_of.update((pair, name) for pair in held)
        if built:
            for site in model.calls:
                if site.method in ("train", "eval", "requires_grad_") and site.receiver is not None and \
                        not _back_to_training(site):
                    key = dotted_name(_strip_moves(site.receiver))
                    if key is not None:
                        key = locals_of.get((site.function, key.split(".", 1)[0]), key)
                        for name in list(built):
                            # (`learner.model.eval()` may switch the `self.model` of that object)
                            if key == name or key.startswith(name + ".") or name.startswith(key + ".") or \
                                    (key.endswith("." + name[5:]) and name.startswith("self.")):
                                del built[name]
                if site.qualname is not None and site.qualname.startswith("torch."):
                    continue
                for arg in site.node.args:
                    name = dotted_name(arg.value)
                    name = locals_of.get((site.function, name), name)
                    if name in built and site.method not in ("to", "append"):
                        del built[name]  # handed to a function that may switch it
        self._unswitched = built
        return built

    def _fresh_local(self, binding) -> Optional[str]:
        """The local name `self.x = model` stores when, in that method, `model` is only ever
        bound to a newly built model (`model = Net(...)`); else None."""
        name = dotted_name(binding.value) if type(binding.value) is cst.Name else None
        if name is None or binding.function is None:
            return None
        info = self.model.function_info.get(binding.function)
        if info is None or name in info.params:
            return None
        local = self.model.bindings_of(name, binding.function)
        if local and all(b.kind == "assign" and b.index is None and b.function is binding.function
                         and self.fresh_model(b.value) for b in local):
            return name
        return None

    def _unswitched_entry(self, info: FunctionInfo) -> tuple:
        """(key, train) for the never-switched models a function with no known caller uses."""
        built = self._never_switched()
        if not built:
            return ()
        found = set()
        for site in info.calls:
            callee = site.callee
            if callee is None:
                continue
            head = callee.split(".", 1)[0]
            if head == "self" and callee.count(".") >= 1:
                key = ".".join(callee.split(".", 2)[:2])
                if key in built and info.cls is not None:
                    found.add(key)
            elif head in built and self._global_of(head, info.node):
                found.add(head)
        return tuple(sorted((key, TRAIN) for key in found))

    # -- models built here --------------------------------------------------------------------
    def fresh_model(self, value: cst.BaseExpression) -> bool:
        """`value` builds a new model (in training mode): a torch/torchvision constructor, a
        model class of this file, or one of another module of the project."""
        if self.roles.fresh_model(value) or self.imported_model(value) is not None:
            return True
        # A factory of the file that builds the project's model classes (`def get_model(self):
        # from models.lenet import LeNet5; return LeNet5()`): known only with the project.
        call = _strip_moves(value)
        return self.project is not None and type(call) is cst.Call and factory_of(
            self.model, call, lambda inner: bool(self.roles.fresh_model(inner)) or
            self.imported_model(inner) is not None, memo="factories.project") is not None

    def imported_model(self, value: cst.BaseExpression) -> Optional[tuple]:
        return imported_model(self.model, self.project, self.module_name, value)

    # -- call resolution ---------------------------------------------------------------------
    def resolve(self, site: CallSite) -> Optional[tuple]:
        """(FunctionDef, bound-self?) for a call of a function or method defined in this file."""
        answer = self._resolved.get(site.node, _UNSET)
        if answer is _UNSET:
            answer = self._resolved[site.node] = self._resolve(site)
        return answer

    def _resolve(self, site: CallSite) -> Optional[tuple]:
        model = self.model
        callee = site.callee
        if callee is None or site.qualname is not None:
            return None
        if "." not in callee:
            scope = site.function
            while scope is not None:
                info = model.function_info[scope]
                for other in model.function_info.values():
                    if other.parent is scope and other.name == callee:
                        return other.node, False
                scope = info.parent
            named = model.functions_named(callee)
            if named:
                return _definition_in_force(model, named, site.node).node, False
            # `validate = Evaluator(loader)` ... `validate(model)`: the class's __call__.
            cls = self._instance_class(callee, site.function)
            if cls is not None and "__call__" in cls.methods:
                return cls.methods["__call__"].node, True
            cls = model.class_info.get(callee)
            if cls is not None and "__init__" in cls.methods:
                return cls.methods["__init__"].node, True
            return None
        head, _, method = callee.rpartition(".")
        if head == "self":
            cls = model.class_of(site.function)
            if cls is not None and method in cls.methods:
                return cls.methods[method].node, True
            return None
        cls = self._instance_class(head, site.function)
        if cls is not None and method in cls.methods:
            return cls.methods[method].node, True
        # `model.val_start()` on a parameter: the one class of the file defining the method.
        found = named_method(model, site, self._instance_class, lambda name, function: library_object(
            model, name, function) or self.roles.is_optimizer(name, function))
        if found is not None:
            self._named_receivers[site.node] = head
            return found, True
        return None

    def _held_models(self, site: CallSite, bindings: dict) -> dict:
        """{attribute: caller's name} for a method called on an object of this file's class
        built once in the caller's scope from names it tracks (`ev = Evaluator(model, loader)`,
        whose __init__ stores `self.model = model`): the attributes that hold the caller's objects."""
        receiver = bindings.get("self")
        if receiver is None or receiver == "self" or "." in receiver:
            return {}
        built = self.model.bindings_of(receiver, site.function)
        if len(built) != 1 or built[0].kind != "assign" or built[0].index is not None \
                or type(built[0].value) is not cst.Call:
            return {}
        call = built[0].value
        cls = self.model.class_info.get(dotted_name(call.func) or "")
        init = cls.methods.get("__init__") if cls is not None else None
        if init is None:
            return {}
        handed = _handed_names(init, call)
        if not handed:
            return {}
        found = {}
        for name, stored in self.model.bindings.items():
            if not name.startswith("self.") or name.count(".") != 1:
                continue
            values = [b for b in stored if b.function is init.node]
            if len(values) == 1 and len(stored) == 1 and values[0].kind == "assign" and values[0].index is None \
                    and type(values[0].value) is cst.Name and values[0].value.value in handed:
                found[name[5:]] = handed[values[0].value.value]
        return found

    def handed_to_attribute(self, function, key: str) -> set:
        """The caller names this file hands to the constructor of `function`'s class for the
        attribute `key` (`self.net`, kept from `__init__(self, net)`: `Trainer(model, opt)`
        hands `model`)."""
        cls = self.model.class_of(function)
        init = cls.methods.get("__init__") if cls is not None else None
        if init is None or not key.startswith("self.") or key.count(".") != 1:
            return set()
        stored = [b for b in self.model.bindings.get(key, ()) if b.function is init.node]
        if len(stored) != 1 or type(stored[0].value) is not cst.Name:
            return set()
        param = stored[0].value.value
        found = set()
        for site in self.model.calls:
            if site.callee == cls.name and site.qualname is None:
                name = _handed_names(init, site.node).get(param)
                if name:
                    found.add(name)
        return found

    def _instance_class(self, name: str, function):
        for b in self.model.bindings_of(name, function):
            value = b.value
            if b.kind == "assign" and b.index is None and type(value) is cst.Call:
                called = dotted_name(value.func)
                if called in self.model.class_info:
                    return self.model.class_info[called]
        return None

    # -- statements ---------------------------------------------------------------------------
    def _exec_block(self, statements: list, states: list[State]) -> Flow:
        flow = Flow(normal=list(states))
        for statement in statements:
            if not flow.normal:
                break
            step = self._exec_statement(statement, flow.normal)
            flow.normal = step.normal
            flow.returns += step.returns
            flow.breaks += step.breaks
            flow.continues += step.continues
        flow.normal = _dedupe(flow.normal)
        return flow

    def _exec_statement(self, statement: cst.CSTNode, states: list[State]) -> Flow:
        kind = type(statement)  # exact types: these libcst classes have no subclasses
        if kind is cst.SimpleStatementLine:
            body = statement.body
            if len(body) == 1:  # most lines (_exec_block only reads the flow it gets back)
                return self._exec_small(body[0], states)
            flow = Flow(normal=states)
            for small in body:
                if not flow.normal:
                    break
                step = self._exec_small(small, flow.normal)
                flow.normal = step.normal
                flow.returns += step.returns
                flow.breaks += step.breaks
                flow.continues += step.continues
            return flow
        if kind is cst.If:
            return self._exec_if(statement, states)
        if kind is cst.For or kind is cst.While:
            return self._exec_loop(statement, states)
        if kind is cst.With:
            return self._exec_with(statement, states)
        if kind is cst.Try or kind is cst.TryStar:
            return self._exec_try(statement, states)
        if kind is cst.Match:
            states = self._calls(statement, states)
            out = Flow()
            for case in statement.cases:
                self._merge(out, self._exec_block(_body_statements(case.body), states))
            out.normal += states
            out.normal = _dedupe(out.normal)
            return out
        # Nested function and class definitions do not run here.
        return Flow(normal=states)

    @staticmethod
    def _merge(into: Flow, other: Flow) -> None:
        into.normal += other.normal
        into.returns += other.returns
        into.breaks += other.breaks
        into.continues += other.continues

    def _exec_small(self, small: cst.BaseSmallStatement, states: list[State]) -> Flow:
        states = self._calls(small, states)
        kind = type(small)  # exact types (no subclasses): cheaper than ABC isinstance checks
        if kind is cst.Return:
            return Flow(returns=states)
        if kind is cst.Break:
            return Flow(breaks=states)
        if kind is cst.Continue:
            return Flow(continues=states)
        if kind is cst.Raise or (kind is cst.Assert and _always_false(small.test)):
            return Flow()  # `assert False` (an unsupported setting) ends the path like a raise
        if kind is cst.Assign:
            for target in small.targets:
                states = self._assign(target.target, small.value, states)
        elif kind is cst.AnnAssign and small.value is not None:
            states = self._assign(small.target, small.value, states)
        return Flow(normal=_dedupe(states))

    def _assign(self, target: cst.BaseExpression, value: cst.BaseExpression, states: list[State]) -> list[State]:
        """The states after `target = value` (its plan looked up once for all of them)."""
        plan = self._assign_plans.get(target)
        if plan is None:
            plan = self._assign_plans[target] = self._plan_assign(target, value)
        kind = plan[0]
        if kind == "skip":
            return states
        out = []
        if kind == "unpack":
            for state in states:
                for name in plan[1]:
                    state = state.with_env(name, _DROP)
                for name, source in plan[2]:
                    mode = state.mode(source)
                    state = state.with_mode(name, mode) if mode is not None else state
                out.append(state)
            return out
        _, name, built, source, has_value = plan
        copies = source is not None and source != name
        # `model = train_model(model, ...)` of another module, read in phase 1: what it hands
        # back is pending on its summary (returned_models.py), given the arguments' modes.
        pending = not built and source is None and type(value) is cst.Call and value in self._opaque \
            and self.roles.is_model(name, self._current)
        for state in states:
            state = state.with_env(name, evaluate(value, state) if has_value else _DROP)
            if pending:
                state = state.with_mode(name, self._returned_pending(value, state))
            elif built:
                state = state.with_mode(name, built)
            elif copies and (mode := state.mode(source)) is not None:
                state = state.with_mode(name, mode)
            elif source != name and state.mode(name) is not None and not name.startswith("self."):
                state = state.with_mode(name, UNKNOWN)
            out.append(state)
        return out

    def _plan_assign(self, target: cst.BaseExpression, value: cst.BaseExpression) -> tuple:
        """What an assignment does, apart from the state it runs in (computed once per target)."""
        if type(target) is cst.Tuple or type(target) is cst.List:
            names = [dotted_name(e.value) for e in target.elements]
            # `model, losses = fit(model, ...)`: the module handed back keeps the mode `fit` left it in.
            plain = type(value) is cst.Call and all(type(e) is cst.Element for e in target.elements)
            sources = [dotted_name(self.returned_argument(value, i)) if plain and name else None
                       for i, name in enumerate(names)]
            return ("unpack", [n for n in names if n], [(n, s) for n, s in zip(names, sources) if n and s and n != s])
        name = dotted_name(target)
        if name is None:
            return ("skip",)
        fresh = self.fresh_model(value)
        source = dotted_name(value)
        wrapped = wrapped_module(value)
        # `Featurizer(model)` of the model handed in, with no mode-dependent layer of its
        # own (also inside `DataParallel(...)`): its forward runs that model, in its mode.
        thin = thin_wrapper_of(self.model, wrapped if wrapped is not None else value)
        if thin is not None:
            fresh, source = False, dotted_name(thin)
        elif wrapped is not None:
            # `DataParallel(net)` runs `net`'s own layers: its mode is `net`'s, not a new
            # module's (a wrapper of a freshly built model is fresh all the same).
            fresh = self.fresh_model(wrapped)
            source = None if fresh else dotted_name(_strip_moves(wrapped))
        elif source is None and type(value) is cst.Call:
            # `m = copy.deepcopy(model)`, `model = model.to(device)`, `torch.compile(model)`.
            func = value.func
            if type(func) is cst.Attribute and func.attr.value in SELF_RETURNING + ("train", "eval"):
                source = dotted_name(func.value)
            elif dotted_name(func) in ("copy.deepcopy", "deepcopy", "torch.compile") and value.args:
                source = dotted_name(value.args[0].value)
            else:  # `model = fit(model, ...)` returning its argument: the same module
                source = dotted_name(self.returned_argument(value))
        built = _chained_mode(value) or (TRAIN if fresh else EVAL if loaded_in_eval_mode(self.model, value) else None)
        if built is None and source is None and type(value) is cst.Call:
            returned = self._project_return(value)
            if returned is not None and returned[0] == "built":
                built = returned[1]  # `model = train_model(...)` of another module, building and training it
        if built is None and built_by_library(self.model, self.project, value, name):
            built = TRAIN  # another package's builder: a new module, in training mode
        return ("name", name, built, source, _may_have_value(value))

    def _exec_if(self, node: cst.If, states: list[State]) -> Flow:
        # An `elif` chain is walked in a loop, not by recursion: CPython compiles chains
        # thousands of branches long, and one frame per branch would overflow the stack.
        out = Flow()
        while True:
            states = self._calls(node, states)
            plan = self._if_plans.get(node)
            if plan is None:
                # `if not train:` / `if train == False:` are the fact `train` negated, so that
                # they agree with `if train:` on every path.
                test, negated = _flag_of(node.test)
                plan = self._if_plans[node] = (_fact_text(self.model, test), _module_guard(node.test),
                                               _may_have_value(node.test), negated)
            code, guard, has_value, negated = plan
            taken, skipped = [], []
            for s in states:
                value = evaluate(node.test, s) if has_value else _DROP
                if value is _DROP:
                    value = s.fact(code)
                    if value is not None and negated:
                        value = not value
                    elif value is None and type(test_node := node.test) is cst.BooleanOperation:
                        value = self._from_facts(test_node, s)
                if value is None or value is _DROP:
                    taken.append(s.with_fact(code, not negated))
                    skipped.append(s.with_fact(code, negated))
                elif value:
                    taken.append(s)
                else:
                    skipped.append(s)
            if guard is not None:
                # `if isinstance(net, nn.Module): net.eval()`: on the other path `net` is no
                # module, there is no mode to switch; its mode is unknown there, not "train".
                name, positive = guard
                other = skipped if positive else taken
                other[:] = [s.with_mode(name, UNKNOWN) if s.mode(name) is not None else s for s in other]
            if taken:
                self._merge(out, self._exec_block(_body_statements(node.body), taken))
            if not skipped:
                break
            orelse = node.orelse
            if type(orelse) is cst.If:
                node, states = orelse, _dedupe(skipped)
                continue
            if type(orelse) is cst.Else:
                self._merge(out, self._exec_block(_body_statements(orelse.body), skipped))
            else:
                out.normal += skipped
            break
        out.normal = _dedupe(out.normal)
        return out

    def _from_facts(self, test: cst.BooleanOperation, state: State) -> Optional[bool]:
        """`a and b` / `a or b` decided by what the path already assumed of its operands
        (`if self.optimizer is not None and self.stage == "train"` after `if self.stage ==
        "train"` was taken false by the caller), else None."""
        if not state.facts:
            return None
        known = {_squeeze(code): value for code, value in state.facts}
        values = []
        for operand in (test.left, test.right):
            if type(operand) is cst.BooleanOperation and type(operand.operator) is type(test.operator):
                value = self._from_facts(operand, state)
            else:
                inner, negated = _flag_of(operand)
                value = evaluate(operand, state) if _may_have_value(operand) else _DROP
                if value is _DROP:
                    value = known.get(_squeeze(_fact_text(self.model, inner)))
                    value = None if value is None else (value != negated)
            values.append(None if value is _DROP else value)
        if type(test.operator) is cst.And:
            return False if False in values else (True if values == [True, True] else None)
        return True if True in values else (False if values == [False, False] else None)

    def _exec_loop(self, node, states: list[State]) -> Flow:
        states = self._calls(node, states)
        body = _body_statements(node.body)
        if type(node) is cst.For:
            unrolled = self._literal_elements(node)
            if unrolled is not None:
                return self._exec_unrolled(node, unrolled, body, states)
            targets = _target_names(node.target)
            states = _dedupe(self._drop_names(s, targets) for s in states)
        if self._recording:
            self._loop_entries.setdefault(node, []).extend(states)
        first = self._exec_block(body, states)
        again = _dedupe(states + first.normal + first.continues)
        second = self._exec_block(body, again)
        # `for epoch in range(10)` (a positive count known on every path) or a loop that trains
        # (nobody reports numbers from a run of zero epochs) runs its body before it ends: the
        # states from before the loop do not leave it. Other loops may not run.
        runs = _range_runs(node.iter, states) if type(node) is cst.For else None
        skipped = [] if runs or (runs is None and self._trains_in(node)) else states
        exits = _dedupe(skipped + first.normal + first.continues) + second.normal + second.continues + \
            first.breaks + second.breaks
        out = Flow(returns=first.returns + second.returns)
        if node.orelse is not None:
            self._merge(out, self._exec_block(_body_statements(node.orelse.body), _dedupe(exits)))
        else:
            out.normal = _dedupe(exits)
        return out

    def _exec_unrolled(self, node: cst.For, elements: list, body: list, states: list[State]) -> Flow:
        out = Flow()
        current = states
        for element in elements:
            bound = [self._bind_target(node.target, element, s) for s in current]
            step = self._exec_block(body, bound)
            out.returns += step.returns
            out.breaks += step.breaks
            current = _dedupe(step.normal + step.continues)
            if not current:
                break
        out.normal = _dedupe(current + out.breaks)
        out.breaks = []
        return out

    def _bind_target(self, target: cst.BaseExpression, value: cst.BaseExpression, state: State) -> State:
        if type(target) is cst.Name:
            constant = _constant(value)
            return state.with_env(target.value, value if constant is _DROP else constant)
        if type(target) in (cst.Tuple, cst.List) and type(value) in (cst.Tuple, cst.List) \
                and len(target.elements) == len(value.elements):
            for t, v in zip(target.elements, value.elements):
                state = self._bind_target(t.value, v.value, state)
            return state
        for name in _target_names(target):
            state = state.with_env(name, _DROP)
        return state

    @staticmethod
    def _literal_elements(node: cst.For) -> Optional[list]:
        """`for phase in ("train", "val")` / `for split, loader in (("train", tl), ...)`."""
        iterable = node.iter
        if type(iterable) in (cst.Tuple, cst.List) and 0 < len(iterable.elements) <= 6 and \
                not any(type(e) is cst.StarredElement for e in iterable.elements):
            values = [e.value for e in iterable.elements]
            if any(_constant(v) is not _DROP for v in values) or \
                    all(type(v) in (cst.Tuple, cst.List) and v.elements and
                        _constant(v.elements[0].value) is not _DROP for v in values):
                return values
        return None

    @staticmethod
    def _drop_names(state: State, names: list[str]) -> State:
        for name in names:
            state = state.with_env(name, _DROP)
        return state

    def _exec_with(self, node: cst.With, states: list[State]) -> Flow:
        states = self._calls(node, states)
        before = {s.grad for s in states}
        inside = []
        for s in states:
            for item in node.items:
                grad = self._grad_context(item.item, s)
                if grad is not None:
                    s = s.with_grad(grad)
            inside.append(s)
        flow = self._exec_block(_body_statements(node.body), _dedupe(inside))
        restore = before.pop() if len(before) == 1 else UNKNOWN
        changes_grad = any(self._grad_context(item.item, State()) is not None or
                           self._is_set_grad(item.item) for item in node.items)
        if changes_grad:
            flow.normal = _dedupe(s.with_grad(restore) for s in flow.normal)
            flow.returns = [s.with_grad(restore) for s in flow.returns]
            flow.breaks = [s.with_grad(restore) for s in flow.breaks]
            flow.continues = [s.with_grad(restore) for s in flow.continues]
        return flow

    def _is_set_grad(self, expr: cst.BaseExpression) -> bool:
        return type(expr) is cst.Call and matches(self._qualify_grad(expr), *SET_GRAD)

    def _qualify_grad(self, call: cst.Call) -> Optional[str]:
        """The qualified name of a grad-mode call. `torch.no_grad()` in a file that never binds
        `torch` (a documentation notebook that relies on an import it does not show) can only
        mean torch's: it is taken as written."""
        qualified = self.model.qualify_call(call)
        if qualified is None:
            written = dotted_name(call.func)
            if written and written.startswith("torch.") and "torch" not in self.model.imports.aliases \
                    and not self.model.bindings.get("torch"):
                return written
        return qualified

    def _grad_context(self, expr: cst.BaseExpression, state: State) -> Optional[str]:
        if type(expr) is cst.IfExp:
            return self._chosen_grad_context(expr, state)
        if type(expr) is not cst.Call:
            return None
        qualified = self._qualify_grad(expr)
        if matches(qualified, *GRAD_OFF_CONTEXTS):
            if qualified and qualified.endswith("inference_mode") and expr.args:
                value = evaluate(expr.args[0].value, state)
                return OFF if value is True else (ON if value is False else UNKNOWN)
            return OFF
        if matches(qualified, *GRAD_ON_CONTEXTS):
            return ON
        if matches(qualified, *SET_GRAD) and expr.args:
            value = evaluate(expr.args[0].value, state)
            return ON if value is True else (OFF if value is False else UNKNOWN)
        return None

    def _chosen_grad_context(self, expr: cst.IfExp, state: State) -> Optional[str]:
        """`with (torch.enable_grad() if training else torch.no_grad()):` picks its context per
        path: the side the condition selects, or the shared answer when it is not known."""
        body = self._grad_context(expr.body, state)
        orelse = self._grad_context(expr.orelse, state)
        if body is None and orelse is None:
            return None
        chosen = evaluate(expr.test, state)
        if chosen is True:
            return body if body is not None else state.grad
        if chosen is False:
            return orelse if orelse is not None else state.grad
        return body if body == orelse else UNKNOWN

    def _exec_try(self, node, states: list[State]) -> Flow:
        body = self._exec_block(_body_statements(node.body), states)
        out = Flow(returns=list(body.returns), breaks=list(body.breaks), continues=list(body.continues))
        handler_entry = _dedupe(states + body.normal)
        for handler in node.handlers:
            self._merge(out, self._exec_block(_body_statements(handler.body), handler_entry))
        if node.orelse is not None:
            self._merge(out, self._exec_block(_body_statements(node.orelse.body), body.normal))
        else:
            out.normal += body.normal
        if node.finalbody is not None:
            statements = _body_statements(node.finalbody.body)
            final = self._exec_block(statements, _dedupe(out.normal))
            # A `return` inside the `try` runs the `finally` block too (`self.net.eval(); try:
            # return self.net(x) finally: self.net.train()` hands the net back in training mode).
            returning = self._exec_block(statements, _dedupe(out.returns)) if out.returns else Flow()
            out.normal = final.normal
            out.returns = returning.normal + returning.returns + final.returns
        out.normal = _dedupe(out.normal)
        return out

    # -- calls ------------------------------------------------------------------------------------
    def _calls(self, owner: cst.CSTNode, states: list[State]) -> list[State]:
        sites = self._statement_calls.get(owner)
        if sites is None:
            return states
        plans = self._call_plans
        for site in sites:
            key = site.node
            if self._recording:
                seen = self._visits.setdefault(key, [])
                seen.extend(states)
                if len(seen) > 4 * MAX_STATES:
                    self._visits[key] = _dedupe(seen)
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = self._plan_call(site)
            if plan[0] != "none":  # most calls: nothing to do
                states = self._apply(site, plan, states)
            elif self.project is not None:
                effect = self._project_effects.get(key, _UNSET)
                if effect is _UNSET:
                    effect = self._project_effects[key] = self._project_effect(site)
                if effect is not None:
                    states = self._apply_project_effect(site, effect, states)
            if key in self._opaque:
                states = self._forget_arguments(site, states)
        return states

    def _project_effect(self, site: CallSite) -> Optional[list]:
        """[(caller key, modes)] that a call into another module of the project leaves models
        in, read from summaries: a function there switching a parameter (`validate(model)`
        whose `model.eval()` is never undone), or a method of the project's model classes
        switching `self` (`model.predict(x)` calling `self.eval()`) when every model class
        defining that method does the same. None when the project does not say."""
        project = self.project
        if not self.module_name or not hasattr(project, "method_effects"):
            return None
        call = site.node
        if site.qualname is not None and not site.qualname.startswith(("torch.", "numpy.", "sklearn.")):
            target = resolve_import(self.module_name, site.qualname)
            summary = project.get(target[0]) if target is not None else None
            effects = (getattr(summary, "effects", None) or {}).get(target[1]) if summary is not None else None
            if not effects:
                return None
            positional, switched = effects
            found = []
            plain = [a for a in call.args if a.keyword is None and not a.star]
            for param, arg in zip(positional, plain):
                if param in switched and dotted_name(arg.value):
                    found.append((dotted_name(arg.value), tuple(switched[param])))
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value in switched and dotted_name(arg.value):
                    found.append((dotted_name(arg.value), tuple(switched[arg.keyword.value])))
            return found or None
        receiver = site.receiver
        if site.qualname is not None or receiver is None or self.resolve(site) is not None:
            return None
        key = dotted_name(_strip_moves(receiver))
        if not key or (key == "self" and self.model.class_of(site.function) is not None):
            return None  # a method of this class: resolved in the file when it is there
        entries = project.method_effects(site.method)
        if not entries and key != "self" and not library_object(self.model, key, site.function):
            # `model.val_start()` on a wrapper of another module switching its attributes.
            wrapped = project_wrapper_method(project, site.method)
            if wrapped is not None and wrapped[0]:
                return [(key + suffix, modes) for suffix, modes in wrapped[0]]
        if not entries or any(entry != entries[0] for entry in entries) or not entries[0] or "?" in entries[0]:
            return None
        if not self.roles.is_model(key, site.function):
            return None
        return [(key, tuple(entries[0]))]

    def _apply_project_effect(self, site: CallSite, effect: list, states: list[State]) -> list[State]:
        out = states
        for key, modes in effect:
            new = []
            for s in out:
                for mode in modes:
                    new.append(s if mode == UNKNOWN else self._set_mode(s, key, mode))
            out = _dedupe(new)
        return out

    def _returned_pending(self, call: cst.Call, state: State) -> tuple:
        """("returned", targets, ((position or keyword, mode), ...), None): the model an opaque
        call hands back, resolved by the project from the callee's `returned_models`."""
        handed = []
        position = 0
        for arg in call.args:
            if arg.star:
                break
            where = arg.keyword.value if arg.keyword is not None else position
            position += arg.keyword is None
            name = dotted_name(arg.value)
            mode = state.mode(name) if name else None
            if mode is not None:
                handed.append((where, mode))
        return ("returned", self._opaque[call], tuple(handed), None)

    def _forget_arguments(self, site: CallSite, states: list[State]) -> list[State]:
        """After an opaque call, each model handed to it has the mode the callee leaves it in,
        given the one it had (`after(...)`); its attributes tracked apart become unknown."""
        targets = self._opaque[site.node]
        handed = []  # (argument position or keyword, name)
        position = 0
        for arg in site.node.args:
            if arg.star:
                break
            name = dotted_name(arg.value)
            where = arg.keyword.value if arg.keyword is not None else position
            position += arg.keyword is None
            if name and (name.split(".", 1)[0] != "self" or "." in name):
                handed.append((where, name))
        out = []
        for state in states:
            for where, name in handed:
                prior = state.mode(name)
                if prior is None and not self.roles.is_model(name, site.function):
                    continue
                prefix = name + "."
                for held, mode in state.modes:
                    if held.startswith(prefix) and mode != UNKNOWN:
                        state = state.with_mode(held, UNKNOWN)
                state = state.with_mode(name, after(targets, where, prior or UNKNOWN))
            out.append(state)
        return _dedupe(out)

    def _apply(self, site: CallSite, plan: tuple, states: list[State]) -> list[State]:
        kind = plan[0]
        call = site.node
        if kind == "mode":
            _, key, method = plan
            out = []
            # `m.eval()` on a parameter may switch a global model handed in under that name:
            # the globals this state tracks become unknown (unless set to the same mode).
            aliased = self._current is not None and key.split(".", 1)[0] in self.model.function_info[
                self._current].params
            for s in states:
                if aliased:
                    for held, mode in s.modes:
                        if self._global_of(held.split(".", 1)[0], self._current):
                            s = s.with_mode(held, UNKNOWN)
                if method == "eval":
                    out.append(self._set_mode(s, key, EVAL))
                    continue
                value = evaluate(call.args[0].value, s) if call.args else True
                out.append(self._set_mode(s, key, TRAIN if value is True else EVAL if value is False else UNKNOWN))
            return _dedupe(out)
        if kind == "forget":  # an unreadable evaluation helper may have switched what it was handed
            out = []
            for s in states:
                for name in plan[1]:
                    if s.mode(name) not in (None, UNKNOWN):
                        s = s.with_mode(name, UNKNOWN)
                out.append(s)
            return _dedupe(out)
        if kind == "set_grad":
            out = []
            for s in states:
                value = evaluate(call.args[0].value, s)
                out.append(s.with_grad(ON if value is True else OFF if value is False else UNKNOWN))
            return _dedupe(out)
        _, callee, bindings = plan
        if self._recording:
            entries = []
            # Literal arguments bind the callee's parameters (`_run_epoch("val", epoch)`): its
            # `if mode == "train":` then tells the paths of this call apart.
            constants = self._constant_arguments(callee, site)
            for s in states:
                modes = []
                for param, key in bindings.items():
                    mode = s.mode(key)
                    if mode is not None:
                        modes.append((param, mode))
                    # Attributes travel with their object: `self.model` in the caller is
                    # `self.model` in a method called on self.
                    prefix = key + "."
                    modes.extend((param + "." + held[len(prefix):], held_mode)
                                 for held, held_mode in s.modes if held.startswith(prefix))
                # An object built here holding a model (`ev = Evaluator(model)`, whose __init__
                # keeps `self.model = model`): `self.model` in `ev.run()` is the caller's model.
                for attribute, held in self._held_models(site, bindings).items():
                    mode = s.mode(held)
                    if mode is not None:
                        modes.append(("self." + attribute, mode))
                # A module-level model the callee reads as a global (`def test(): model(x)`)
                # is the same object in caller and callee.
                # (Not when it is also handed in as an argument: the callee may switch it
                # under the parameter's name, which this state would not see.)
                passed = set(bindings.values())
                modes.extend((held, held_mode) for held, held_mode in s.modes
                             if held.split(".", 1)[0] not in passed
                             and self._shared_global(held.split(".", 1)[0], callee, bindings))
                # A method called on `self` sees the same attributes: what this path assumed
                # about them (`if self.stage == "train": self.train_step()`) holds there too.
                facts = tuple(f for f in s.facts if _about_self(f[0])) if bindings.get("self") == "self" else ()
                entries.append(State(modes=tuple(sorted(set(modes))), grad=s.grad, env=constants, facts=facts))
            self.callers.setdefault(callee, []).extend(entries)
            self._calling_functions.setdefault(callee, []).extend([self._current] * len(entries))
        effects = self.effects(callee)
        if not effects:
            return states
        out = states
        for param_key, modes in effects.items():
            head, _, rest = param_key.partition(".")
            key = bindings.get(head)
            if key is None:
                if not self._shared_global(head, callee, bindings):
                    continue
                key = head  # a global the callee switches (`def train(): model.train()`)
            key = f"{key}.{rest}" if rest else key
            new = []
            for s in out:
                for mode in modes:
                    new.append(s if mode == UNKNOWN else self._set_mode(s, key, mode))
            out = _dedupe(new)
        return out

    def _constant_arguments(self, callee: cst.FunctionDef, site: CallSite) -> tuple:
        """(parameter, value) for the literal strings, numbers and True/False/None passed to
        `callee` at `site`, sorted by name (a State's env)."""
        info = self.model.function_info[callee]
        call = site.node
        if any(a.star for a in call.args):
            return ()
        resolved = self.resolve(site)
        bound = resolved is not None and resolved[1]
        positional = info.positional if bound or info.cls is None else info.params
        found = {}
        plain = [a for a in call.args if a.keyword is None]
        for param, arg in zip(positional, plain):
            value = _constant(arg.value)
            if value is not _DROP:
                found[param] = value
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in info.params:
                value = _constant(arg.value)
                if value is not _DROP:
                    found[arg.keyword.value] = value
        return tuple(sorted(found.items(), key=lambda pair: pair[0]))

    def _set_mode(self, state: State, key: str, mode: str) -> State:
        """`key` switched to `mode`, and with it the other name of the same module in the running
        function (`model = self.model`: switching either switches both)."""
        if key.endswith(".module") and len(key) > 7:
            # `model.module.eval()` on a DataParallel/DDP wrapper: the wrapped module holds every
            # layer the wrapper runs, so the wrapper is switched with it.
            state = state.with_mode(key[:-7], mode)
        state = state.with_mode(key, mode)
        aliases = self._aliases_in(self._current)
        if not aliases:
            return state
        head, dot, rest = key.partition(".")
        target = aliases.get(head)
        if target is not None:
            state = state.with_mode(target + dot + rest, mode)
            key = target + dot + rest
        for local, held in aliases.items():
            if key == held or key.startswith(held + "."):
                state = state.with_mode(local + key[len(held):], mode)
        return state

    def _aliases_in(self, function: Optional[cst.FunctionDef]) -> dict[str, str]:
        """Local names that only ever hold one attribute of `self` (`model = self.model`,
        `model = self.model.to(device)`) in a method, or of a parameter (`model =
        context.model`): local -> `self.x` / `param.x`. One pass over the file's bindings,
        the first time any function asks."""
        if self._aliases is None:
            held: dict[tuple, set] = {}
            for name, bindings in self.model.bindings.items():
                if "." in name:
                    continue
                for b in bindings:
                    if b.function is None:
                        continue
                    target = None
                    if b.kind == "assign" and b.index is None:
                        value = wrapped_module(b.value)
                        target = dotted_name(_strip_moves(b.value if value is None else value))
                        if target == name:
                            continue  # `model = DataParallel(model)`, `model = model.to(dev)`: the same module
                    held.setdefault((b.function, name), set()).add(target)
            table: dict = {}
            for (owner, name), targets in held.items():
                target = next(iter(targets))
                if len(targets) == 1 and target is not None and target.count(".") == 1:
                    info = self.model.function_info.get(owner)
                    head = target.split(".", 1)[0]
                    # `model = self.model` in a method, or `model = context.model` of a
                    # parameter: a trainer handed a holder of the model uses it under both names.
                    if info is not None and ((head == "self" and info.cls is not None) or
                                             (head != "self" and head in info.params and name not in info.params)):
                        table.setdefault(owner, {})[name] = target
            self._aliases = table
        return self._aliases.get(function, {}) if function is not None else {}

    def _plan_call(self, site: CallSite) -> tuple:
        """What a call does to the state, apart from the state (computed once per call):
        ("mode", key, method), ("set_grad",), ("call", callee, parameter -> key), ("forget",
        names), ("none",)."""
        method = site.method
        call = site.node
        if method in ("train", "eval") and site.receiver is not None and len(call.args) <= 1:
            key = dotted_name(_strip_moves(site.receiver))
            if key is None or (method == "train" and not self._could_be_model(key, site)):
                return ("none",)
            return ("mode", key, method)
        if matches(site.qualname, *SET_GRAD) and call.args and type(self.model.parent(call)) is cst.Expr:
            return ("set_grad",)
        resolved = self.resolve(site)
        if resolved is None:
            handed = external_evaluator_arguments(self.model, self.project, call)
            return ("forget", handed) if handed else ("none",)
        callee, bound = resolved
        info = self.model.function_info[callee]
        return ("call", callee, self._argument_keys(info, call, bound, site))

    def _could_be_model(self, key: str, site: CallSite) -> bool:
        # HF `trainer.train()` and friends are not mode switches.
        words = key.rsplit(".", 1)[-1].lower()
        return "trainer" not in words

    def _argument_keys(self, info: FunctionInfo, call: cst.Call, bound: bool, site: CallSite) -> dict[str, str]:
        """Callee parameter -> caller expression key (dotted names only)."""
        keys: dict[str, str] = {}
        positional = info.positional if bound or info.cls is None else info.params
        plain = [a for a in call.args if a.keyword is None and not a.star]
        for param, arg in zip(positional, plain):
            name = dotted_name(arg.value)
            if name:
                keys[param] = name
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in info.params:
                name = dotted_name(arg.value)
                if name:
                    keys[arg.keyword.value] = name
        if bound and info.params and info.params[0] == "self":
            receiver = site.receiver
            name = dotted_name(receiver) if receiver is not None else None
            if name == "self" or (name is not None and "." not in name and self._instance_class(name, site.function)
                                  is info.cls) or (name is not None and self._named_receivers.get(call) == name):
                # `trainer.validate()` on `trainer = Trainer(...)`: the method's `self.model`
                # is the caller's `trainer.model`.
                keys["self"] = name
        return keys

    # -- queries for rules ---------------------------------------------------------------------------
    def call_sites_of(self, function: cst.FunctionDef) -> list[tuple[CallSite, bool]]:
        """Calls in this file that run `function` (with whether the receiver is bound as self)."""
        table = self.model.cache.get("call_sites_of")
        if table is None:
            table = {}
            for site in self.model.calls:
                resolved = self.resolve(site)
                if resolved is not None:
                    table.setdefault(resolved[0], []).append((site, resolved[1]))
            self.model.cache["call_sites_of"] = table
        return table.get(function, [])

    def returned_argument(self, call: cst.Call, index: Optional[int] = None) -> Optional[cst.BaseExpression]:
        """The argument that a call of a plain function of this file hands back, whole or at
        position `index` of the tuple it returns (`return model, losses` of `def fit(model,
        ...)`): the same module, in the mode the function leaves it. None when some return
        gives anything else, or the function rebinds the parameter to another value."""
        site = self.model.call_site.get(call)
        resolved = self.resolve(site) if site is not None else None
        if resolved is None and index is None:
            returned = self._project_return(call)
            if returned is not None and returned[0] == "param":
                # `model = train_model(model, ...)` of another module: the argument, handed back.
                _, param, position = returned
                for arg in call.args:
                    if arg.keyword is not None and arg.keyword.value == param:
                        return arg.value
                plain = [a for a in call.args if a.keyword is None and not a.star]
                return plain[position].value if position is not None and position < len(plain) else None
        if resolved is None or resolved[1]:
            return None
        info = self.model.function_info[resolved[0]]
        param = None
        for ret in info.returns:
            value = ret.value
            if index is not None and type(value) is cst.Tuple and len(value.elements) > index and \
                    not any(type(e) is cst.StarredElement for e in value.elements):
                value = value.elements[index].value
            elif index is not None:
                return None
            if type(value) is not cst.Name or value.value not in info.params or param not in (None, value.value):
                return None
            param = value.value
        if param is None or any(b.kind != "param" and dotted_name(_strip_moves(b.value)) != param
                                for b in self.model.bindings_of(param, info.node)):
            return None  # no return, or `model = Other()` inside: not the caller's module
        plain = [a for a in call.args if a.keyword is None and not a.star]
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == param:
                return arg.value
        position = info.positional.index(param) if param in info.positional else None
        return plain[position].value if position is not None and position < len(plain) else None

    def arguments_of(self, function: Optional[cst.FunctionDef], param: str) -> list[tuple]:
        """(argument expression, caller function) for `param` at every call site of `function`."""
        info = self.model.info(function)
        if info is None:
            return []
        found = []
        for site, bound in self.call_sites_of(function):
            positional = info.positional if bound or info.cls is None else info.params
            plain = [a for a in site.node.args if a.keyword is None and not a.star]
            value = None
            if param in positional and positional.index(param) < len(plain):
                value = plain[positional.index(param)].value
            for arg in site.node.args:
                if arg.keyword is not None and arg.keyword.value == param:
                    value = arg.value
            if value is None:
                return []  # a call that leaves it to the default: cannot tell
            found.append((value, site.function))
        return found

    def states_at(self, call: cst.Call) -> list[State]:
        return _dedupe(self._visits.get(call, ()))

    def loop_entry_states(self, loop: cst.CSTNode) -> list[State]:
        """The states in which `loop` starts (each time it is entered)."""
        return _dedupe(self._loop_entries.get(loop, ()))

    def _trains_in(self, loop: cst.CSTNode) -> bool:
        """The loop holds a backward call or an optimizer step (in its own function), or a
        call of a function of the file that trains (`for epoch in range(n): train_epoch(...)`)."""
        if self._training_loops is None:
            found: set = set()
            for site in self._training_calls():
                for ancestor in self.model.ancestors(site.node):
                    if type(ancestor) is cst.FunctionDef or type(ancestor) is cst.ClassDef:
                        break
                    if type(ancestor) is cst.For or type(ancestor) is cst.While:
                        found.add(ancestor)
            self._training_loops = found
        return loop in self._training_loops

    def _training_calls(self) -> list[CallSite]:
        """Backward calls and optimizer steps, and the calls of the file's functions that run
        one (through a few levels of helpers: `fit` calls `train_epoch`, which steps)."""
        sites = [site for site in self.model.calls if site.method == "backward" or (
            site.method == "step" and site.receiver is not None
            and self.roles.is_optimizer(dotted_name(site.receiver), site.function))]
        trainers = {site.function for site in sites if site.function is not None}
        seen = set(sites)
        for _ in range(3):
            names = {self.model.function_info[f].name for f in trainers}
            more = [site for site in self.model.calls if site not in seen and site.callee
                    and site.callee.rsplit(".", 1)[-1] in names
                    and (self.resolve(site) or (None,))[0] in trainers]
            if not more:
                break
            seen.update(more)
            sites += more
            trainers |= {site.function for site in more if site.function is not None}
        return sites


def _back_to_training(site: CallSite) -> bool:
    """`model.train()` / `model.train(True)`: the mode a fresh model already has."""
    args = site.node.args
    return site.method == "train" and (not args or (len(args) == 1 and args[0].keyword is None and
                                                     type(args[0].value) is cst.Name and args[0].value.value == "True"))


def _range_runs(iterable: cst.BaseExpression, states: list[State]) -> Optional[bool]:
    """For `range(...)` whose bounds are known on every path (literals, constants bound in
    the file, `n + 1`): whether a loop over it runs its body at least once. None when the
    iterable is anything else or a bound is unknown."""
    if type(iterable) is not cst.Call or type(iterable.func) is not cst.Name or iterable.func.value != "range" \
            or not 1 <= len(iterable.args) <= 3 or any(a.keyword or a.star for a in iterable.args) or not states:
        return None
    answers = set()
    for state in states:
        bounds = [_int_value(a.value, state) for a in iterable.args]
        if any(b is None for b in bounds) or (len(bounds) == 3 and bounds[2] == 0):
            return None
        answers.add(bool(range(*bounds)))
    return answers.pop() if len(answers) == 1 else None


def _int_value(node: cst.BaseExpression, state: State) -> Optional[int]:
    """An int constant, or a sum/difference of two (`num_epochs + 1`)."""
    if type(node) is cst.BinaryOperation and type(node.operator) in (cst.Add, cst.Subtract):
        left, right = _int_value(node.left, state), _int_value(node.right, state)
        if left is None or right is None:
            return None
        return left + right if type(node.operator) is cst.Add else left - right
    value = evaluate(node, state)
    return value if type(value) is int else None


def _definition_in_force(model: FileModel, named: list[FunctionInfo], call: cst.Call) -> FunctionInfo:
    """Of several module-level `def`s of one name (a notebook redefines its helper cell after
    cell), the one a call runs when the file runs top to bottom: the last defined above the
    call; a call above every definition gets the first."""
    if len(named) == 1:
        return named[0]
    order = source_order(model)
    at = order.get(call, 0)
    above = [info for info in named if order.get(info.node, 0) < at]
    return max(above, key=lambda info: order.get(info.node, 0)) if above else \
        min(named, key=lambda info: order.get(info.node, 0))


def _handed_names(init: FunctionInfo, call: cst.Call) -> dict:
    """{__init__ parameter: the caller's dotted name handed to it} for `Cls(model, loader=ld)`."""
    params = [p for p in init.positional if p != "self"]
    handed = {}
    for index, arg in enumerate(call.args):
        if arg.star:
            break
        name = dotted_name(arg.value)
        if not name:
            continue
        if arg.keyword is not None:
            handed[arg.keyword.value] = name
        elif index < len(params):
            handed[params[index]] = name
    return handed


def _acyclic(nodes: set, callers_of: dict[Any, list]) -> bool:
    """Whether the calls among `nodes` (callee -> calling functions) form no cycle,
    self-calls included: Kahn's algorithm removes every node of an acyclic graph."""
    edges = {callee: [f for f in callers if f in nodes]
             for callee, callers in callers_of.items() if callee in nodes}
    indegree = dict.fromkeys(nodes, 0)  # per caller: how many of its callees are left
    for callers in edges.values():
        for caller in callers:
            indegree[caller] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    removed = 0
    while ready:
        callee = ready.pop()
        removed += 1
        for caller in edges.get(callee, ()):
            indegree[caller] -= 1
            if indegree[caller] == 0:
                ready.append(caller)
    return removed == len(nodes)


def _decorated_grad(model: FileModel, info: FunctionInfo) -> Optional[str]:
    for decorator in info.decorators:
        target = decorator.func if type(decorator) is cst.Call else decorator
        qualified = model.imports.qualify(target)
        if matches(qualified, *GRAD_OFF_CONTEXTS) or _names_grad_off_wrapper(target):
            return OFF
        if matches(qualified, *SET_GRAD) and type(decorator) is cst.Call and decorator.args:
            value = _constant(decorator.args[0].value)
            return OFF if value is False else ON if value is True else UNKNOWN
    return None


def _names_grad_off_wrapper(target: cst.BaseExpression) -> bool:
    """Projects wrap torch's decorators (`smart_inference_mode()`, `torch_no_grad`):
    a decorator whose own name says it turns gradients off is taken at its word."""
    name = dotted_name(target)
    last = name.rsplit(".", 1)[-1].lower() if name else ""
    return "inference_mode" in last or "no_grad" in last


_MODULE_CLASSES = ("Module", "LightningModule", "PreTrainedModel")


def _module_guard(test: cst.BaseExpression) -> Optional[tuple]:
    """(name, True) for `isinstance(name, nn.Module)`, (name, False) for its negation."""
    positive = True
    while type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        test, positive = test.expression, not positive
    if type(test) is not cst.Call or type(test.func) is not cst.Name or test.func.value != "isinstance" \
            or len(test.args) != 2:
        return None
    classes = test.args[1].value
    options = [e.value for e in classes.elements] if type(classes) is cst.Tuple else [classes]
    if not any((dotted_name(o) or "").rsplit(".", 1)[-1] in _MODULE_CLASSES for o in options):
        return None
    name = dotted_name(test.args[0].value)
    return (name, positive) if name else None


def _flag_of(test: cst.BaseExpression) -> tuple:
    """(the condition underneath, negated?) for `not x`, `x == True`, `x is False`..."""
    negated = False
    while True:
        if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
            test, negated = test.expression, not negated
            continue
        if type(test) is cst.Comparison and len(test.comparisons) == 1 and \
                type(test.comparisons[0].operator) in (cst.Equal, cst.Is, cst.NotEqual, cst.IsNot) and \
                type(test.comparisons[0].comparator) is cst.Name and \
                test.comparisons[0].comparator.value in ("True", "False"):
            target = test.comparisons[0]
            flips = (target.comparator.value == "False") != (type(target.operator) in (cst.NotEqual, cst.IsNot))
            test, negated = test.left, negated != flips
            continue
        if type(test) is cst.Comparison and len(test.comparisons) == 1 and \
                type(test.comparisons[0].operator) in (cst.NotEqual, cst.IsNot):
            # `mode != "train"` is `mode == "train"` negated, `x is not None` is `x is None`
            # negated: one fact, so that the two tests agree on every path.
            # (`_fact_text` writes it as the positive test.)
            return test, not negated
        return test, negated


def _fact_text(model: FileModel, test: cst.BaseExpression) -> str:
    """The text a condition's fact is kept under (see `_flag_of` and `_condition_code`)."""
    if type(test) is cst.Comparison and len(test.comparisons) == 1 and \
            type(test.comparisons[0].operator) in (cst.NotEqual, cst.IsNot):
        target = test.comparisons[0]
        operator = "==" if type(target.operator) is cst.NotEqual else "is"
        return _condition_code(f"{model.code(test.left)} {operator} {model.code(target.comparator)}")
    return _condition_code(model.code(test))


_NAMES_IN_CODE = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")
_WORDS = {"self", "not", "and", "or", "is", "in", "None", "True", "False"}


def _about_self(code: str) -> bool:
    """A condition over `self`'s attributes and literals only (`self.stage == "train"`)."""
    names = _NAMES_IN_CODE.findall(_STRINGS.sub("''", code))
    return "self" in names and all(name in _WORDS for name in names)


_SINGLE_QUOTED = re.compile(r"'([^'\"\\]*)'")


def _condition_code(code: str) -> str:
    """The text a path fact is kept under: `mode == 'train'` and `mode == "train"` are one
    condition (a helper tests its flag with one quote style, the caller's branch with the other)."""
    return _SINGLE_QUOTED.sub(r'"\1"', code.strip("() "))


def _squeeze(code: str) -> str:
    """A condition's text without spaces: `a == "b"` and `a=="b"` are one condition."""
    return "".join(code.split())


def imported_model(model: FileModel, project: Any, module: Optional[str],
                   value: cst.BaseExpression) -> Optional[tuple]:
    """(True/False/None, layer) when `value` builds an nn.Module class defined in another
    module of the run (`from captcha_cnn_model import CNN; cnn = CNN()`), else None."""
    if project is None or not module or not hasattr(project, "model_class"):
        return None
    value = _strip_moves(value)
    if type(value) is not cst.Call:
        return None
    qualified = model.qualify_call(value)
    if qualified is not None:
        target = resolve_import(module, qualified)
        return project.model_class(*target) if target is not None else None
    name = dotted_name(value.func)
    if not name or "." in name or name in model.class_info:
        return None
    for star in model.imports.stars:  # `from model import *`
        target = resolve_import(module, f"{star}.{name}")
        found = project.model_class(*target) if target is not None else None
        if found is not None:
            return found
    return None


_WRAPPERS = {"DataParallel", "DistributedDataParallel", "DDP", "FullyShardedDataParallel", "FSDP"}


def wrapped_module(value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """`net` for `nn.DataParallel(net, ...)` / `DDP(module=net)` (moves stripped), else None."""
    value = _strip_moves(value)
    if type(value) is not cst.Call or (dotted_name(value.func) or "").rsplit(".", 1)[-1] not in _WRAPPERS:
        return None
    for arg in value.args:
        if (arg.keyword is None and not arg.star) or (arg.keyword is not None and arg.keyword.value == "module"):
            return arg.value
    return None


def _chained_mode(value: cst.BaseExpression) -> Optional[str]:
    """The mode a value is switched to by its own chain: `Net().eval()`, `model.to(dev).train()`
    (the outermost switch wins), else None."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and \
            value.func.attr.value in SELF_RETURNING + ("train", "eval"):
        method = value.func.attr.value
        if method == "eval":
            return EVAL
        if method == "train":
            flag = evaluate(value.args[0].value, State()) if value.args else True
            return TRAIN if flag is True else EVAL if flag is False else UNKNOWN
        value = value.func.value
    return None


def _strip_moves(node: cst.BaseExpression) -> cst.BaseExpression:
    """`model.to(device)` -> `model`: device and dtype moves return the same module."""
    while type(node) is cst.Call and type(node.func) is cst.Attribute and \
            node.func.attr.value in SELF_RETURNING + ("train", "eval"):
        node = node.func.value
    return node


def _target_names(target: cst.BaseExpression) -> list[str]:
    if type(target) in (cst.Tuple, cst.List):
        names = []
        for element in target.elements:
            names.extend(_target_names(element.value))
        return names
    name = dotted_name(target)
    return [name] if name else []


def flow_of(model: FileModel, project: Any = None, module_name: Optional[str] = None) -> FlowAnalysis:
    flow = model.cache.get("flow")
    if flow is None:
        flow = model.cache["flow"] = FlowAnalysis(model, project, module_name).run()
    return flow


def decorated_grad(model: FileModel, info: FunctionInfo) -> Optional[str]:
    """OFF/ON/UNKNOWN when a decorator of `info` sets the grad mode (`@torch.no_grad()`), else None."""
    return _decorated_grad(model, info)


def strip_moves(node: cst.BaseExpression) -> cst.BaseExpression:
    """`net` for `net.to(device)` / `net.cuda()` and the like."""
    return _strip_moves(node)
