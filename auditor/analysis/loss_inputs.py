"""Which loss a call applies to which of its arguments, beyond `nn.CrossEntropyLoss()(x, y)`.

Three kinds of callee are read here, on top of the built-in losses that `roles` knows:

- the user's own loss: a class whose `forward` (or a function) hands one of its
  parameters, unchanged but for shape operations and on every path, to a built-in loss
  as that loss's input (`F.binary_cross_entropy_with_logits(inputs, ...)` in a focal
  loss). A call of it applies that loss to the matching argument;
- a criterion installed on an object by a setter (`def add_loss_op(self, op): self.op = op`,
  or `__init__(self, criterion)`) whose callers, in this module or another, pass a built-in
  loss (`model.add_loss_op(nn.NLLLoss())`);
- a criterion assigned onto an object from outside (`model.loss_op = nn.NLLLoss()`).

Other modules are read through their phase-1 summaries (`FileSummary.loss_consumers`,
`FileSummary.loss_installs`, see `summarize`); this module never parses another file.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.alternatives import exclusive
from auditor.analysis.activations import SHAPE_FUNCTIONS, SHAPE_METHODS, defining_module, reaching_bindings
from auditor.analysis.builds import built_in_loss, class_named, instance_class, unwrap_moves, wrapped_loss
from auditor.analysis.loss_aliases import alias_name, class_attribute_loss
from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, matches, resolve_import
from auditor.analysis.roles import LOSS_CLASSES, LOSS_FUNCTIONS, roles_of

_BRANCHES = (cst.If, cst.IfExp, cst.Try, cst.While, cst.BooleanOperation)
_CLASS_NAMES = {"ce": "CrossEntropyLoss", "bce_logits": "BCEWithLogitsLoss", "nll": "NLLLoss"}
LOSS_NAMES = {"ce": "cross_entropy", "bce_logits": "binary_cross_entropy_with_logits", "nll": "nll_loss"}
# The words a file must contain to build or call a built-in loss (a cheap screen).
LOSS_WORDS = tuple(sorted({n.rsplit(".", 1)[-1] for names in (*LOSS_CLASSES.values(), *LOSS_FUNCTIONS.values())
                           for n in names}))


# -- phase 1: what this file tells others -------------------------------------------------

def loss_consumers(model: FileModel) -> dict:
    """{(class or function name, positional index): loss kind} for this file's own losses."""
    roles = roles_of(model)
    found: dict = {}
    for info in model.function_info.values():
        if info.parent is not None:
            continue
        cls = info.cls
        if cls is not None:
            if model.class_info.get(cls.name) is not cls:
                continue
            # A loss class's forward; another method is called as `self.loss(...)` in its class.
            owner = cls.name if info.name == "forward" else f"{cls.name}.{info.name}"
        elif info.cls_ref is None:
            owner = info.name
        else:
            continue
        for position, kind in _consumed(model, roles, info).items():
            key = (owner, position)
            found[key] = kind if found.get(key, kind) == kind else None
    found.update(_loss_factories(model, roles, found))
    return {key: kind for key, kind in found.items() if kind is not None}


def _consumed(model: FileModel, roles, info) -> dict:
    """{positional index: loss kind (None when two disagree)} for the parameters of one
    function that reach a built-in loss's input unconditionally."""
    found: dict = {}
    positional = info.positional
    for site in info.calls:
        kind = roles.loss_kind_of_callee(site.callee, site.node, site.function) or reference_kind(model, site)
        if kind is None or _conditional(model, site.node, info.node):
            continue
        param = _parameter_reaching(model, _input_argument(site.node), info)
        if param is None or param not in positional:
            continue
        position = positional.index(param)
        found[position] = kind if found.get(position, kind) == kind else None
    return found


def _loss_factories(model: FileModel, roles, consumers: Optional[dict] = None) -> dict:
    """{("name(", 0): kind} for the file's top-level functions that return a built-in loss on
    every path (`def get_criterion(): return nn.CrossEntropyLoss()`), or an instance of a loss
    class of this file taking its input first (`def get_loss(name): ... return DiceBCELoss()`,
    whose forward hands `inputs` to `binary_cross_entropy_with_logits`). The "(" keeps them
    apart from the losses that are called on the input."""
    found = {}
    consumers = consumers or {}
    for info in model.function_info.values():
        if info.parent is not None or info.cls is not None or info.cls_ref is not None or not info.returns:
            continue
        kinds = {_returned_loss_kind(model, roles, ret.value, info.node, consumers) if ret.value is not None else None
                 for ret in info.returns}
        if len(kinds) == 1 and None not in kinds and _returns_on_every_path(info):
            found[(f"{info.name}(", 0)] = kinds.pop()
    return found


def _returned_loss_kind(model: FileModel, roles, value: cst.BaseExpression, function,
                        consumers: dict) -> Optional[str]:
    kind = built_in_loss(model, roles, value, function)
    if kind is None and type(value) is cst.Call and dotted_name(value.func) in model.class_info:
        kind = consumers.get((dotted_name(value.func), 0))  # the user's loss class, input first
    return kind


def _returns_on_every_path(info) -> bool:
    """The function's body ends in a return (a branch that falls off the end returns None)."""
    body = info.node.body.body
    last = body[-1] if body else None
    return isinstance(last, cst.SimpleStatementLine) and any(type(small) is cst.Return for small in last.body)


def loss_installs(model: FileModel, module: str, is_package: bool) -> list:
    """Built-in losses this file hands to objects of a class: a list of
    (class name, its module or None when unknown, member, kind). `member` is
    `method:index`, `method:keyword` (a setter's or `__init__`'s parameter) or `attr:name`."""
    roles = roles_of(model)
    found = []
    for site in model.calls:
        # `model.add_loss_op(nn.NLLLoss())`, `Trainer(model, criterion=nn.NLLLoss())`
        receiver_class = None
        method = None
        if site.method is not None and site.qualname is None:
            receiver_class = instance_class(model, site.receiver, site.function, module, is_package)
            method = site.method
        elif type(site.node.func) in (cst.Name, cst.Attribute):
            receiver_class = class_named(model, site.node.func, module, is_package)
            method = "__init__"
        if receiver_class is None:
            continue
        for position, arg in enumerate(site.node.args):
            if arg.star:
                break
            kind = built_in_loss(model, roles, arg.value, site.function)
            if kind is None:
                continue
            member = f"{method}:{arg.keyword.value}" if arg.keyword is not None else f"{method}:{position}"
            found.append((*receiver_class, member, kind))
    for name, bindings in model.bindings.items():
        # `model.loss_op = nn.NLLLoss()` on an object built here from a class
        head, _, attr = name.rpartition(".")
        if not head or head == "self" or "." in head or "[" in name:
            continue
        for b in bindings:
            if b.kind != "assign" or b.index is not None:
                continue
            kind = built_in_loss(model, roles, b.value, b.function)
            owner = instance_class(model, cst.Name(head), b.function, module, is_package) if kind else None
            if owner is not None:
                found.append((*owner, f"attr:{attr}", kind))
    return found


def reference_kind(model: FileModel, site) -> Optional[str]:
    """`self.loss_func = F.binary_cross_entropy_with_logits` ... `self.loss_func(...)`: a name
    bound only to a built-in loss function itself (not to a call of it)."""
    if site.callee is None or site.qualname is not None:
        return None
    kinds = set()
    for b in model.bindings_of(site.callee, site.function):
        if b.kind != "assign" or b.index is not None or type(b.value) not in (cst.Name, cst.Attribute):
            return None
        qualified = model.qualify(b.value)
        kinds.add(next((kind for kind, names in LOSS_FUNCTIONS.items() if matches(qualified, *names)), None))
    return kinds.pop() if len(kinds) == 1 else None


# -- phase 2: what a call applies -----------------------------------------------------------

class LossInputs:
    """Per file: the loss a call applies, and to which argument (see `input_of`)."""

    def __init__(self, model: FileModel, project=None, module_name: Optional[str] = None,
                 is_package: bool = False) -> None:
        self.model = model
        self.roles = roles_of(model)
        self.project = project
        self.module_name = module_name or ""
        self.is_package = is_package
        self._consumers: Optional[dict] = None
        self._installs: Optional[list] = None

    def screen_words(self) -> tuple:
        """Words without which a file cannot call any loss this run knows (a cheap screen)."""
        # This file's own losses and installs name a built-in loss: LOSS_WORDS covers them.
        from auditor.analysis.module_objects import shared_loss_names

        return LOSS_WORDS + tuple(sorted(self._project_tables()[0])) + shared_loss_names(self.project)

    def input_of(self, site) -> Optional[tuple[str, Optional[cst.BaseExpression], Optional[str]]]:
        """(loss kind, the argument the loss reads as its input, how: None for a built-in loss)."""
        kind = self.roles.loss_kind_of_callee(site.callee, site.node, site.function) or \
            reference_kind(self.model, site) or self._reaching_kind(site)
        if kind is not None:
            return kind, _input_argument(site.node), None
        found = self._callee(site.node.func, site.function)
        if found is None:
            return None
        kind, position, how = found
        positional = [a for a in site.node.args if a.keyword is None]
        if any(a.star for a in positional[:position + 1]) or position >= len(positional):
            return None
        return kind, positional[position].value, how

    def _reaching_kind(self, site) -> Optional[str]:
        """A criterion name bound to several losses (a notebook's `loss_fn = nn.MSELoss()`, later
        `loss_fn = nn.CrossEntropyLoss()`): the built-in loss of the bindings that reach the call."""
        model = self.model
        if site.callee is None or site.qualname is not None:
            return None
        bindings = model.bindings_of(site.callee, site.function)
        if len(bindings) < 2 or any(b.kind != "assign" or b.index is not None for b in bindings):
            return None
        kinds = set()
        for b in reaching_bindings(model, bindings, site.node, site.function):
            value = unwrap_moves(b.value)
            kinds.add(self.roles._loss_class_kind(value) if type(value) is cst.Call else None)
        return kinds.pop() if len(kinds) == 1 else None

    def alternative_kinds(self, site) -> frozenset:
        """The built-in losses a criterion name holds on the configurations that choose among
        them (`if task == 'classification': loss_func = nn.CrossEntropyLoss() elif ...:
        loss_func = nn.MSELoss()`): each branch's loss is the one this call applies when that
        branch runs. Empty unless every binding that reaches the call is one branch of one `if`."""
        model = self.model
        if site.callee is None or site.qualname is not None:
            return frozenset()
        bindings = model.bindings_of(site.callee, site.function)
        if len(bindings) < 2 or any(b.kind != "assign" or b.index is not None for b in bindings):
            return frozenset()
        reaching = reaching_bindings(model, bindings, site.node, site.function)
        if len(reaching) < 2 or not exclusive(model, [b.statement for b in reaching]):
            return frozenset()
        kinds = set()
        for b in reaching:
            value = unwrap_moves(b.value)
            kinds.add(self.roles._loss_class_kind(value) if type(value) is cst.Call else None)
        return frozenset(kinds - {None})

    def as_alternative(self, site, kind: str) -> Optional[tuple[str, Optional[cst.BaseExpression], str]]:
        """`input_of`'s answer for a call whose criterion is `kind` on one of the configurations
        (see `alternative_kinds`), else None."""
        if kind not in self.alternative_kinds(site):
            return None
        return kind, _input_argument(site.node), "the loss one branch of an `if` installs"

    # -- callees --
    def _callee(self, func: cst.BaseExpression, function) -> Optional[tuple[str, int, str]]:
        model = self.model
        if type(func) is cst.Call:  # `WeightedFocalLoss()(pred, y)`
            return self._constructed(func)
        name = dotted_name(func)
        if name is None:
            return None
        qualified = model.qualify(func)
        if qualified is not None:  # `focal_loss(pred, y)` imported from another module
            return self._imported(qualified, f"`{name.rsplit('.', 1)[-1]}`") or self._shared(name)
        if name.startswith("self.") and name.count(".") == 1 and name not in model.bindings:
            cls = model.class_of(function)
            if cls is not None and name[5:] in cls.methods:  # `self.loss(logits, y)`: a method of the class
                key = f"{cls.name}.{name[5:]}"
                found = [(position, kind) for (owner, position), kind in self.consumers().items() if owner == key]
                if len(found) == 1:
                    position, kind = found[0]
                    return kind, position, f"via `{name}()`, which hands it to {LOSS_NAMES[kind]}"
                return None
        if name in model.bindings or name.startswith("self."):
            return self._bound(name, function)
        if name.count(".") == 1 and name.split(".")[0] in model.class_info:  # `Client.CRITERION(out, y)`
            return class_attribute_loss(model, self.roles, name, function)
        own = self.consumers()
        for (owner, position), kind in own.items():
            if owner == name and not model.class_info.get(name):
                return kind, position, f"via `{name}`, which hands it to {LOSS_NAMES[kind]}"
        return self._local_consumer(name, func) or self._shared(name)

    def _shared(self, name: str) -> Optional[tuple[str, int, str]]:
        """A criterion built at the top level of another module: imported from it, or bound by
        the files of this directory run before this one (see module_objects.py)."""
        from auditor.analysis.module_objects import LOSS, shared_object

        found = shared_object(self.model, self.project, self.module_name, self.is_package, name)
        if found is None or found[0] != LOSS:
            return None
        return found[1], 0, f"{found[2]}, a {_CLASS_NAMES.get(found[1], found[1])}"

    def _local_consumer(self, name: str, func: cst.BaseExpression) -> Optional[tuple[str, int, str]]:
        """`def criterion(logits, labels): return F.binary_cross_entropy_with_logits(logits, labels)`
        defined inside the function that calls it (`main()`): the one such function in scope."""
        model = self.model
        local = [info for info in model.function_info.values() if info.name == name and info.parent is not None
                 and info.cls_ref is None and model.is_within(func, info.parent)]
        consumed = _consumed(model, self.roles, local[0]) if len(local) == 1 else {}
        consumed = {position: kind for position, kind in consumed.items() if kind is not None}
        if len(consumed) != 1:
            return None
        position, kind = consumed.popitem()
        return kind, position, f"via `{name}`, which hands it to {LOSS_NAMES[kind]}"

    def _bound(self, name: str, function) -> Optional[tuple[str, int, str]]:
        model = self.model
        answers = set()
        # `criterion = criterion.cuda()` rebinds the same object: not a loss of its own.
        bindings = [b for b in model.bindings_of(name, function) if not (
            b.kind == "assign" and b.index is None and dotted_name(unwrap_moves(b.value)) == name)]
        if len(bindings) == 1 and bindings[0].kind == "param" and bindings[0].function is function:
            return self._handed(function, name)  # `def train(model, criterion)`: what callers pass
        for b in bindings:
            if b.kind != "assign" or b.index is not None:
                return None
            value = unwrap_moves(b.value)
            owner = model.info(b.function)
            wrapped = wrapped_loss(model, self.roles, value, b.function)
            if wrapped is not None:  # `loss_fn = lambda p, t: F.cross_entropy(p, t)`, a partial
                answer = wrapped
            elif type(value) is cst.Call:
                answer = self._constructed(value)
            elif type(value) is cst.Name and owner is not None and value.value in owner.params \
                    and name.startswith("self.") and owner.cls is not None:
                answer = self._installed(owner, value.value)
            elif alias_name(value) is not None:  # `criterion = Client.CRITERION`
                answer = class_attribute_loss(model, self.roles, alias_name(value), b.function)
            else:
                return None
            if answer is None:
                return None
            answers.add(answer)
        if not answers and name.startswith("self.") and name.count(".") == 1:
            cls = model.class_of(function)
            answers.update(self._assigned_from_outside(cls, name[5:]) if cls is not None else ())
            if not answers:  # `criterion = nn.CrossEntropyLoss()` in the class body
                answer = class_attribute_loss(model, self.roles, name, function)
                answers.update((answer,) if answer is not None else ())
        return answers.pop() if len(answers) == 1 else None

    def _handed(self, function, param: str) -> Optional[tuple[str, int, str]]:
        """The built-in loss that every caller of `function` passes as `param`."""
        kind = self._handed_kind(function, param, 0)
        if kind is None:
            return None
        from auditor.analysis.handed import handed_to

        info = self.model.info(function)
        if not handed_to(self.model, self.project, self.module_name, function, param):
            return kind, 0, f"via `{param}`, whose default is a {_CLASS_NAMES[kind]} that no call of " \
                            f"`{info.name}()` replaces by another loss"
        return kind, 0, f"via `{param}`, which every caller of `{info.name}()` passes as a {_CLASS_NAMES[kind]}"

    def _handed_kind(self, function, param: str, depth: int) -> Optional[str]:
        """The loss kind of what every caller passes as `param`; a caller that passes its own
        parameter on unchanged (`def train(model, criterion): step(model, criterion)`) is
        asked in turn, a few levels up."""
        from auditor.analysis.handed import handed_to

        given = handed_to(self.model, self.project, self.module_name, function, param)
        if depth > 3:
            return None
        if not given:
            return self._default_kind(function, param)
        kinds = set()
        for how, *what in given:
            if how == "expr":
                kind = built_in_loss(self.model, self.roles, what[0], what[1])
                passed = _passed_parameter(self.model, what[0], what[1])
                if kind is None and passed is not None:
                    kind = self._handed_kind(what[1], passed, depth + 1)
                kinds.add(kind)
            else:
                kinds.add(what[0][1] if what[0] is not None and what[0][0] == "loss" else None)
            if None in kinds:
                return None
        return kinds.pop() if len(kinds) == 1 else None

    def _default_kind(self, function, param: str) -> Optional[str]:
        """`def train(model, loader, criterion=nn.CrossEntropyLoss())`: the default's loss kind,
        when every call of the run that passes the parameter passes a loss of that kind."""
        from auditor.analysis.program import program_of
        from auditor.analysis.handed import summary_callee

        model = self.model
        info = model.info(function)
        default = info.defaults.get(param) if info is not None else None
        kind = built_in_loss(model, self.roles, default, info.parent) if default is not None else None
        if kind is None or info.parent is not None:
            return None
        flow = program_of(model, self.project, self.module_name).flow
        for site, bound in flow.call_sites_of(info.node):
            if any(a.star for a in site.node.args):
                return None  # `train(*args, **kwargs)`: cannot tell
            names = info.positional if bound or info.cls is None else info.params
            plain = [a for a in site.node.args if a.keyword is None]
            passed = [a.value for a in site.node.args if a.keyword is not None and a.keyword.value == param]
            if param in names and names.index(param) < len(plain):
                passed.append(plain[names.index(param)].value)
            if passed and built_in_loss(model, self.roles, passed[0], site.function) != kind:
                return None
        callee = summary_callee(info)
        if callee is not None and self.module_name and hasattr(self.project, "call_arguments"):
            position = info.positional.index(param) if param in info.positional else None
            for described in self.project.call_arguments(self.module_name, callee):
                passed = described.get(param, described.get(position, "left")) if position is not None \
                    else described.get(param, "left")
                if passed != "left" and passed != ("loss", kind):
                    return None
        return kind

    def _constructed(self, call: cst.Call) -> Optional[tuple[str, int, str]]:
        model = self.model
        kind = self.roles._loss_class_kind(call)
        if kind is not None:
            return kind, 0, None  # a built-in loss (moved to a device): nothing to explain
        name = dotted_name(call.func)
        if name is None:
            return None
        qualified = model.qualify(call.func)
        if qualified is not None:
            return self._imported(qualified, f"a {name.rsplit('.', 1)[-1]}") or self._factory(qualified)
        cls = model.class_info.get(name)
        if cls is None:
            kind = self.consumers().get((f"{name}(", 0))
            return (kind, 0, f"via `{name}()`, which returns a {_CLASS_NAMES[kind]}") if kind else None
        for (owner, position), kind in self.consumers().items():
            if owner == name:
                return kind, position, f"via a {name}, whose forward hands it to {LOSS_NAMES[kind]}"
        return None

    def _imported(self, qualified: str, label: str) -> Optional[tuple[str, int, str]]:
        target = resolve_import(self.module_name, qualified, self.is_package) if self.module_name else None
        project = self.project
        if target is None or project is None or not hasattr(project, "get"):
            return None
        target = defining_module(project, *target)
        consumers = getattr(project.get(target[0]), "loss_consumers", None) or {}
        found = [(position, kind) for (owner, position), kind in consumers.items() if owner == target[1]]
        if len(found) != 1:
            return None
        position, kind = found[0]
        return kind, position, f"via {label} of {target[0]}, which hands it to {LOSS_NAMES[kind]}"

    def _factory(self, qualified: str) -> Optional[tuple[str, int, str]]:
        """`criterion = build_loss()`, a function of another module returning a built-in loss."""
        target = resolve_import(self.module_name, qualified, self.is_package) if self.module_name else None
        project = self.project
        if target is None or project is None or not hasattr(project, "get"):
            return None
        target = defining_module(project, *target)
        kind = (getattr(project.get(target[0]), "loss_consumers", None) or {}).get((f"{target[1]}(", 0))
        return (kind, 0, f"via `{target[1]}()` of {target[0]}, which returns a {_CLASS_NAMES[kind]}") if kind else None

    def _installed(self, setter, param: str) -> Optional[tuple[str, int, str]]:
        """The loss that callers hand to `setter`'s parameter `param` (all must agree)."""
        cls = setter.cls
        positional = setter.positional
        members = {f"{setter.name}:{param}"}
        if param in positional:
            members.add(f"{setter.name}:{positional.index(param)}")
        kinds = {kind for owner, module, member, kind in self.installs()
                 if owner == cls.name and member in members and module in (None, self.module_name)}
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
        call = f"{cls.name}(...)" if setter.name == "__init__" else f".{setter.name}(...)"
        return kind, 0, f"via the criterion that `{call}` installs"

    def _assigned_from_outside(self, cls, attr: str) -> set:
        return {(kind, 0, f"via the criterion assigned to `.{attr}` of a {cls.name}")
                for owner, module, member, kind in self.installs()
                if owner == cls.name and member == f"attr:{attr}" and module in (None, self.module_name)}

    # -- tables --
    def consumers(self) -> dict:
        if self._consumers is None:
            self._consumers = loss_consumers(self.model)
        return self._consumers

    def installs(self) -> list:
        """This file's own installs and those of every other module of the run."""
        if self._installs is None:
            found = list(loss_installs(self.model, self.module_name, self.is_package))
            found.extend(entry for module, entry in self._project_tables()[1] if module != self.module_name)
            self._installs = found
        return self._installs

    def _project_tables(self) -> tuple:
        tables = getattr(self.project, "loss_tables", None)
        return tables() if tables is not None else (frozenset(), [])


def loss_inputs_of(model: FileModel, project=None, module_name: Optional[str] = None,
                   is_package: bool = False) -> LossInputs:
    found = model.cache.get("loss_inputs")
    if found is None:
        found = model.cache["loss_inputs"] = LossInputs(model, project, module_name, is_package)
    return found


# -- helpers ----------------------------------------------------------------------------

def _passed_parameter(model: FileModel, value: cst.BaseExpression, function) -> Optional[str]:
    """The name of `function`'s parameter that `value` is, when the function never rebinds it."""
    info = model.info(function)
    if type(value) is not cst.Name or info is None or value.value not in info.params:
        return None
    own = model.bindings_of(value.value, function)
    rebound = [b for b in own if b.kind == "assign" and b.index is None
               and dotted_name(unwrap_moves(b.value)) == value.value]  # `criterion = criterion.cuda()`
    return value.value if all(b.kind == "param" or b in rebound for b in own) else None


def _input_argument(call: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "input":
            return arg.value
    positional = [a for a in call.args if a.keyword is None]
    return positional[0].value if positional and not positional[0].star else None


def _conditional(model: FileModel, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
    """Whether `node` runs only on some paths of `function` (under an if, a loop, a try)."""
    for ancestor in model.ancestors(node):
        if ancestor is function:
            return False
        if isinstance(ancestor, _BRANCHES + (cst.For,)):
            return True
    return True


def _parameter_reaching(model: FileModel, expr: Optional[cst.BaseExpression], info) -> Optional[str]:
    """The parameter of `info` that `expr` is, unchanged but for shape operations and
    indexing (`classes[:, 0, :]`: a slice of probabilities is still probabilities)."""
    function = info.node
    for _ in range(8):
        if expr is None:
            return None
        if type(expr) is cst.Subscript:
            expr = expr.value
            continue
        if type(expr) is cst.Call:
            func = expr.func
            qualified = model.qualify(func)
            if type(func) is cst.Attribute and qualified is None and func.attr.value in SHAPE_METHODS:
                expr = func.value
                continue
            if matches(qualified, *SHAPE_FUNCTIONS) and expr.args:
                expr = expr.args[0].value
                continue
            return None
        if type(expr) is not cst.Name:
            return None
        name = expr.value
        own = [b for b in model.bindings.get(name, []) if b.function is function]
        if any(b.kind not in ("assign", "param") for b in own):
            return None
        assigned = reaching_bindings(model, [b for b in own if b.kind == "assign"], expr, function)
        if not assigned:
            return name if any(b.kind == "param" for b in own) else None
        if len(assigned) != 1 or assigned[0].index is not None or \
                len([b for b in own if b.kind == "assign"]) != len(assigned):
            return None
        expr = assigned[0].value
    return None
