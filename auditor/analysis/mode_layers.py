"""Does a model behave differently in training and eval mode? Read from its construction.

Only dropout and normalisation with running statistics depend on the mode: a model made
of `Linear`, `Conv2d`, `ReLU`, `LayerNorm`... computes the same output in both. The answer
is True (a mode-dependent layer, named), False (every layer is visible and none depends
on the mode) or None (something is not visible: an imported model, a class of another
module, a layer built by an unknown call). Rules only lower a finding on False.
"""

from __future__ import annotations

import builtins
import itertools
import re
from typing import Any, Optional

import libcst as cst

from auditor.analysis.module_methods import SELF_RETURNING
from auditor.analysis.model import ClassInfo, FileModel
from auditor.analysis.names import dotted_name

_DROPOUT = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"}
_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
          "LazyBatchNorm3d"}
_INSTANCE_NORMS = {"InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}  # mode-dependent with running stats
# Layers with a `dropout` argument: mode-dependent when it is not a literal zero (default given).
_DROPOUT_ARGUMENT = {"LSTM": 0, "GRU": 0, "RNN": 0, "MultiheadAttention": 0, "Transformer": 0.1,
                     "TransformerEncoderLayer": 0.1, "TransformerDecoderLayer": 0.1}
_CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}
_WRAPPERS = {"DataParallel", "DistributedDataParallel"}
_RECURRENT = {"LSTM", "GRU", "RNN"}
_FUNCTIONAL_DROPOUT = ("torch.nn.functional.dropout", "torch.nn.functional.dropout1d",
                       "torch.nn.functional.dropout2d", "torch.nn.functional.dropout3d",
                       "torch.nn.functional.alpha_dropout", "torch.dropout", "torch.nn.functional.batch_norm")
_MAX_DEPTH = 6
# Layers of other libraries that mirror a torch.nn layer, same arguments and defaults
# (opacus: per-example gradients for differential privacy).
_MIRRORS = {"opacus.layers": {"DPLSTM": "LSTM", "DPGRU": "GRU", "DPRNN": "RNN",
                              "DPMultiheadAttention": "MultiheadAttention"}}


def _mirrored(qualified: str) -> Optional[str]:
    """The torch.nn layer that `qualified` mirrors (`opacus.layers.DPLSTM` -> `LSTM`), else None."""
    for package, names in _MIRRORS.items():
        if qualified.startswith(package + "."):
            return names.get(qualified.rsplit(".", 1)[-1])
    return None


def mode_dependence(model: FileModel, value: cst.BaseExpression, depth: int = 0) -> tuple[Optional[bool], str]:
    """(dependent?, what) for a model built by `value` (see the module docstring)."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and \
            value.func.attr.value in SELF_RETURNING + ("train",):
        value = value.func.value
    if type(value) is not cst.Call or depth > _MAX_DEPTH:
        return None, ""
    qualified = model.qualify_call(value) or ""
    if qualified.startswith("torch.nn.") and qualified.count(".") == 2:
        return _layer(model, qualified.rsplit(".", 1)[-1], value, depth)
    if _mirrored(qualified):
        return _layer(model, _mirrored(qualified), value, depth)
    name = dotted_name(value.func)
    if name and name.count(".") == 1 and name.endswith((".load_from_checkpoint", ".from_pretrained")):
        name = name.split(".", 1)[0]  # `Net.load_from_checkpoint(path)`: a Net, with weights
    cls = _class_in_force(model, name, value) if name and "." not in name else None
    if cls is not None:
        found = class_dependence(model, cls, depth + 1)
        if found[0] is False and _given_model_inside(model, value):
            return None, ""  # `Featurizer(model)`: the handed-in model's layers are not visible
        return found
    if name and "." not in name and cls is None:
        chosen = _chosen_classes(model, name, value)
        if chosen:
            return _any_of_classes(model, chosen, value, depth)
    if name and name.startswith("self.") and name.count(".") == 1:
        # `nn.Sequential(*self._make_layers(cfg))`: the layers a method of the class returns.
        owner = model.class_of(model.enclosing_function(value))
        method = owner.methods.get(name[5:]) if owner is not None else None
        returned = [r.value for r in method.returns] if method is not None else []
        if returned and all(r is not None for r in returned):
            return _all_of(model, returned, depth)
    if qualified and cls is None and not qualified.startswith("torch."):
        return outside(model, qualified)  # `[Block(d) for ...]` of a block imported from the project
    return None, ""


# -- classes of other modules ------------------------------------------------------------------
#
# A file alone cannot see the layers of a class it imports. A caller that knows the other
# modules (the project index, in phase 2; a recorder, in phase 1) installs a resolver: the
# qualified name of a called class -> (True/False/None, layer). Answers read with a resolver
# are kept apart from those read without one.

_OUTSIDE = "mode_layers.outside"
_TOKENS = itertools.count(1)


class OutsideClasses:
    """A resolver: `answer(qualified)` -> (True/False/None, layer) or None (not known)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.token = next(_TOKENS)  # keeps the answers read with it apart (an id may be reused)

    def __call__(self, qualified: str) -> Optional[tuple]:
        return self.answer(qualified)


def _memo_suffix(model: FileModel) -> str:
    resolver = model.cache.get(_OUTSIDE)
    return "" if resolver is None else f"@{resolver.token}"


def outside(model: FileModel, qualified: Optional[str]) -> tuple[Optional[bool], str]:
    """What the installed resolver says of the class `qualified` names, else unknown."""
    resolver = model.cache.get(_OUTSIDE)
    if resolver is None or not qualified:
        return None, ""
    return resolver(qualified) or (None, "")


def with_outside(model: FileModel, resolver: OutsideClasses, read):
    """`read()` with `resolver` installed (see `outside`), then the previous one back."""
    previous = model.cache.get(_OUTSIDE)
    model.cache[_OUTSIDE] = resolver
    try:
        return read()
    finally:
        if previous is None:
            model.cache.pop(_OUTSIDE, None)
        else:
            model.cache[_OUTSIDE] = previous


def _chosen_classes(model: FileModel, name: str, call: cst.Call) -> list:
    """The classes a local name picks among (`norm_layer = AdaIN if norm == "adain" else
    nn.InstanceNorm2d`) where every binding of it in the function holds classes only, else []."""
    bindings = model.bindings_of(name, model.enclosing_function(call))
    found: list = []
    for b in bindings:
        if b.kind != "assign" or b.index is not None:
            return []
        pending = [b.value]
        while pending:
            value = pending.pop()
            if type(value) is cst.IfExp:
                pending.extend((value.body, value.orelse))
                continue
            written = dotted_name(value)
            if not written:
                return []
            qualified = model.imports.qualify_dotted(written)
            if written in model.class_info or (qualified or "").startswith("torch.nn."):
                found.append((written, qualified))
            else:
                return []
    return found


def _any_of_classes(model: FileModel, chosen: list, call: cst.Call, depth: int) -> tuple[Optional[bool], str]:
    """Dependent when any of the classes `call` may build is; unknown when one is unknown."""
    unknown = False
    for written, qualified in chosen:
        if written in model.class_info:
            found, what = class_dependence(model, model.class_info[written], depth + 1)
        elif qualified and qualified.count(".") == 2:
            found, what = _layer(model, qualified.rsplit(".", 1)[-1], call, depth)
        else:
            found, what = None, ""
        if found:
            return True, what
        unknown = unknown or found is None
    return (None, "") if unknown else (False, "")


def _class_in_force(model: FileModel, name: str, call: cst.Call) -> Optional[ClassInfo]:
    """The class `name` means at `call`: a notebook may define it again, with dropout added."""
    candidates = [c for c in model.class_infos if c.name == name]
    if len(candidates) < 2:
        return model.class_info.get(name)
    from auditor.analysis.uses import source_order  # a sibling's cached table, no cycle at import

    order = source_order(model)
    at = order.get(call, 0)
    before = [c for c in candidates if order.get(c.node, 0) < at]
    return before[-1] if before else candidates[-1]


def _layer(model: FileModel, last: str, call: cst.Call, depth: int) -> tuple[Optional[bool], str]:
    if last in _DROPOUT or last in _NORMS:
        return True, f"nn.{last}"
    if last in _INSTANCE_NORMS:
        tracked = _keyword(call, "track_running_stats")
        if tracked is None or (type(tracked) is cst.Name and tracked.value == "False"):
            return False, ""
        return (True, f"nn.{last}") if type(tracked) is cst.Name and tracked.value == "True" else (None, "")
    if last in _RECURRENT and _single_layer(call):
        return False, ""  # recurrent dropout acts only between stacked layers
    if last in _DROPOUT_ARGUMENT:
        rate = _keyword(call, "dropout")
        if rate is None:
            return (True, f"nn.{last} (dropout)") if _DROPOUT_ARGUMENT[last] else (False, "")
        literal = _number(rate)
        if literal is None:
            return None, ""
        return (True, f"nn.{last} (dropout)") if literal else (False, "")
    if last in _CONTAINERS:
        return _all_of(model, [a.value for a in call.args if not a.keyword], depth)
    if last in _WRAPPERS:  # `nn.DataParallel(Net())`: the wrapped model's layers run
        return _all_of(model, [a.value for a in call.args[:1] if not a.keyword], depth) if call.args else (None, "")
    return False, ""


def _all_of(model: FileModel, values: list, depth: int) -> tuple[Optional[bool], str]:
    unknown = False
    for value in values:
        if type(value) in (cst.List, cst.Tuple):
            found, what = _all_of(model, [e.value for e in value.elements], depth)
        elif type(value) in (cst.ListComp, cst.GeneratorExp):  # `[Layer() for _ in range(n)]`
            found, what = _all_of(model, [value.elt], depth)
        elif type(value) is cst.StarredElement or type(value) is cst.Element:
            found, what = _all_of(model, [value.value], depth)
        elif type(value) is cst.Name:  # `nn.Sequential(*layers)`, `nn.ModuleList(l)`
            found, what = _bound_layers(model, value, depth + 1)
        elif type(value) is cst.BinaryOperation and type(value.operator) is cst.Add:  # `blocks + [head]`
            found, what = _all_of(model, [value.left, value.right], depth)
        elif type(value) is cst.Call and dotted_name(value.func) in ("OrderedDict", "collections.OrderedDict"):
            pairs = value.args[0].value if value.args else None
            inner = [e.value.elements[1].value for e in getattr(pairs, "elements", ())
                     if type(e.value) in (cst.Tuple, cst.List) and len(e.value.elements) == 2]
            found, what = _all_of(model, inner, depth) if inner or pairs is None else (None, "")
        else:
            found, what = mode_dependence(model, value, depth + 1)
        if found:
            return True, what
        unknown = unknown or found is None
    return (None, "") if unknown else (False, "")


# -- layers held by a name ---------------------------------------------------------------------
#
# `all_layers = []; for h in hidden: all_layers.append(nn.Linear(n, h)); ...;
# model = nn.Sequential(*all_layers)`: the container runs what the list holds where it is read.

_GROWS = {"append": 0, "insert": 1, "extend": 0}  # method -> the position of what it adds
# Calls that read a list without changing it (any other call given the list may add to it).
_READ_ONLY = frozenset({"len", "print", "list", "tuple", "enumerate", "zip", "reversed", "sorted", "iter",
                        "isinstance", "repr", "str", "type", "id"})
_BRANCHES = (cst.If, cst.Try, cst.For, cst.While)  # (a `with` body always runs)


def _bound_layers(model: FileModel, name: cst.Name, depth: int) -> tuple[Optional[bool], str]:
    """The layers the local name `name` holds where it is read: the value bound last above
    the read in the same scope (and the earlier ones too while that binding is conditional),
    plus what `append`/`insert`/`extend`/`+=` add to it between that binding and the read.
    Unknown for a parameter, a loop variable, an unpacked value, or a list handed to a call
    that may change it."""
    if depth > _MAX_DEPTH:
        return None, ""
    from auditor.analysis.uses import source_order  # a sibling's cached table, no cycle at import

    function = model.enclosing_function(name)
    order = source_order(model)
    at = order.get(name, 0)
    bindings = sorted((b for b in model.bindings.get(name.value, ()) if b.function is function
                       and order.get(b.statement, 0) < at and not model.is_within(name, b.statement)),
                      key=lambda b: order.get(b.statement, 0))
    values: list = []
    start = None
    for binding in reversed(bindings):
        if binding.kind == "aug":
            values.append(binding.value)  # `layers += [nn.ReLU()]`
            continue
        if binding.kind != "assign" or binding.index is not None:
            return None, ""  # a loop variable, `a, b = f()`, a `with` target: not read here
        values.append(binding.value)
        start = order.get(binding.statement, 0)
        if not _conditional(model, binding.statement, name):
            break
    if start is None:
        return None, ""  # a parameter, a global, a name bound only below the read
    for site in model.calls_in(function):
        where = order.get(site.node, 0)
        if not start < where < at or model.is_within(name, site.node):
            continue
        receiver = site.receiver
        if site.method in _GROWS and type(receiver) is cst.Name and receiver.value == name.value:
            values.extend(a.value for a in site.node.args[_GROWS[site.method]:_GROWS[site.method] + 1])
            continue
        if any(type(a.value) is cst.Name and a.value.value == name.value for a in site.node.args) and \
                site.callee not in _READ_ONLY and not (site.qualname or "").startswith("torch.nn."):
            return None, ""  # `add_blocks(layers)`: a call that may add to it
    return _all_of(model, values, depth)


def _conditional(model: FileModel, statement: cst.CSTNode, read: cst.CSTNode) -> bool:
    """`statement` runs only on some paths to `read`: inside a branch, loop or `try` that
    does not also hold the read."""
    for ancestor in model.ancestors(statement):
        if type(ancestor) is cst.FunctionDef or type(ancestor) is cst.Module:
            return False
        if isinstance(ancestor, _BRANCHES) and not model.is_within(read, ancestor):
            return True
    return False


def class_dependence(model: FileModel, cls: ClassInfo, depth: int = 0) -> tuple[Optional[bool], str]:
    """A local model class: the layers its methods build, its functional dropout, its bases."""
    memo = model.cache.setdefault("mode_layers.classes" + _memo_suffix(model), {})
    if cls.node in memo:
        return memo[cls.node]
    memo[cls.node] = (None, "")  # a recursion guard: unknown while it is being read
    from auditor.analysis.unreached_layers import unreached_layer_calls

    answer = _class_dependence(model, cls, depth, unreached_layer_calls(cls))
    memo[cls.node] = answer
    return answer


def _class_dependence(model: FileModel, cls: ClassInfo, depth: int,
                      skip: frozenset = frozenset()) -> tuple[Optional[bool], str]:
    if depth > _MAX_DEPTH:
        return None, ""
    unknown = False
    for base in cls.bases:
        last = base.rsplit(".", 1)[-1]
        local = model.class_info.get(last)
        if local is not None and local is not cls:
            found, what = class_dependence(model, local, depth + 1)
            if found:
                return True, what
            unknown = unknown or found is None
        elif not (base.startswith("torch.nn.") or base in ("nn.Module", "Module") or _lightning(base)):
            unknown = True  # a base class that is not visible here (another module, a library's model)
    for method in cls.methods.values():
        found, what = _calls_dependence(model, method.calls, depth, skip)
        if found:
            return True, what
        unknown = unknown or found is None
    return (None, "") if unknown else (False, "")


def _lightning(base: str) -> bool:
    """`pl.LightningModule` and friends: a training harness with no layers of its own."""
    return base.rsplit(".", 1)[-1] == "LightningModule"


def _calls_dependence(model: FileModel, calls: list, depth: int,
                      skip: frozenset = frozenset()) -> tuple[Optional[bool], str]:
    """The layers a function's calls build (and those of the file's functions it calls);
    the calls in `skip` left out (layers the caller switches on and off, see `caller_gated`)."""
    unknown = False
    for site in calls:
        if site.node in skip:
            continue
        qualified = site.qualname or ""
        if qualified in _FUNCTIONAL_DROPOUT:
            if _fixed_training_flag(site.node, qualified):
                continue  # `F.batch_norm(..., True, ...)` (AdaIN), `F.dropout(x, 0.5)`: the same in both modes
            return True, qualified.replace("torch.nn.functional.", "F.")
        callee = site.callee or ""
        last = callee.rsplit(".", 1)[-1]
        if qualified.startswith("torch.nn.") and qualified.count(".") == 2 and last[:1].isupper():
            found, what = _layer(model, last, site.node, depth)
        elif _mirrored(qualified):
            found, what = _layer(model, _mirrored(qualified), site.node, depth)
        elif callee in model.class_info:
            found, what = class_dependence(model, model.class_info[callee], depth + 1)
        elif site.qualname is None and "." not in callee and model.functions_named(callee) and depth < _MAX_DEPTH:
            # `layers = make_layers(cfg)`: a builder function of the file.
            found, what = _builder_dependence(model, model.functions_named(callee)[0], depth + 1)
        elif not callee or qualified.startswith("torch.") or callee == "self" or callee.startswith("self.") \
                or not _builds_an_attribute(model, site):
            continue  # `self.C(x)`: a layer or method of the model, read where it is built
        else:
            # `self.body = timm.create_model(...)`: not visible here; `Encoder(d)` of another
            # module of the project: what that module's summary says (`outside`).
            found, what = outside(model, qualified)
        if found:
            return True, what
        unknown = unknown or found is None
    return (None, "") if unknown else (False, "")


def _builder_dependence(model: FileModel, function, depth: int) -> tuple[Optional[bool], str]:
    """`_calls_dependence` of a builder function's calls, kept per (function, depth): a helper
    called many times, or calling itself (`color_space_transform` 27 times in one loss file),
    would otherwise be read again at every call, exponentially in the depth."""
    memo = model.cache.setdefault("mode_layers.builders" + _memo_suffix(model), {})
    key = (function.node, depth)
    if key not in memo:
        memo[key] = _calls_dependence(model, function.calls, depth)
    return memo[key]


# Where the functional forms take their `training` flag, and its default.
_TRAINING_FLAG = {"torch.nn.functional.batch_norm": (5, "training", False), "torch.dropout": (2, "train", None)}


def _fixed_training_flag(call: cst.Call, qualified: str) -> bool:
    """A functional batch norm or dropout whose `training` flag is a literal (batch norm: or
    left to its default, False): it computes the same in training and eval mode
    (`F.batch_norm(x, rm, rv, w, b, True)`, instance norm written by hand, uses batch
    statistics in both; `F.dropout(x, 0.5, training=True)` drops in both), so the model's
    mode does not reach it. `training=self.training` does."""
    # (A dropout without the flag is left as dependent: the forgotten `training=self.training`
    # is its own finding, and the output there still changes with nothing the mode can fix.)
    index, keyword, default = _TRAINING_FLAG.get(qualified, (2, "training", None))
    flag = _keyword(call, keyword)
    if flag is None:
        positional = [a.value for a in call.args if a.keyword is None]
        if any(a.star for a in call.args):
            return False
        flag = positional[index] if len(positional) > index else None
    if flag is None:
        return default is not None
    return type(flag) is cst.Name and flag.value in ("True", "False")


def _builds_an_attribute(model: FileModel, site) -> bool:
    """The call builds something kept on the model (`self.x = make(...)`) or is a class."""
    last = (site.callee or "").rsplit(".", 1)[-1]
    if last[:1].isupper():
        return True
    statement = site.statement
    if type(statement) is cst.Assign and statement.value is site.node:
        return any((dotted_name(t.target) or "").startswith("self.") for t in statement.targets)
    return False


def _single_layer(call: cst.Call) -> bool:
    """`nn.LSTM(n, h)` / `num_layers=1`: one layer (the third positional argument is num_layers)."""
    layers = _keyword(call, "num_layers")
    positional = [a.value for a in call.args if a.keyword is None]
    if layers is None and len(positional) >= 3:
        layers = positional[2]
    return layers is None or _number(layers) == 1


def _keyword(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _number(node: cst.BaseExpression) -> Optional[float]:
    if type(node) in (cst.Integer, cst.Float):
        try:
            return float(node.value)
        except ValueError:
            return None
    return None


# -- dropout switched by the caller ------------------------------------------------------------
#
# `def forward(self, x, is_training=False): ... if is_training: h = self.dropout(h)`: the layer
# runs only when the caller asks for it, whatever the module's mode. A call that leaves the
# flag off computes the same output in both modes.

def caller_gated(model: FileModel, value: cst.BaseExpression, call: cst.Call) -> bool:
    """`value` builds a model class of this file whose every mode-dependent layer runs only
    when a parameter of its `forward` says so (`if is_training: h = self.dropout(h)`,
    `F.dropout(h, training=is_training)`, a rate: `nn.Dropout(d)(h)`), the rest of it
    depending on no mode, and the forward call `call` leaves each such parameter off (not
    given and false by default, or a false literal: False, None, 0)."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and \
            value.func.attr.value in SELF_RETURNING + ("train",):
        value = value.func.value
    name = dotted_name(value.func) if type(value) is cst.Call else None
    cls = _class_in_force(model, name, value) if name and "." not in name else None
    forward = cls.methods.get("forward") if cls is not None else None
    if forward is None:
        return False
    memo = model.cache.setdefault("mode_layers.gated", {})
    found = memo.get(cls.node)
    if found is None:
        found = memo[cls.node] = _gates(model, cls, forward)
    gates, independent = found
    if not gates or not independent:
        return False
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if any(a.star for a in call.args):
        return False
    for gate in gates:
        given = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == gate), None)
        index = forward.positional.index(gate) if gate in forward.positional else None
        if given is None and index is not None and index < len(positional):
            given = positional[index]
        if given is None:
            given = forward.defaults.get(gate)
        if given is None or not _false_literal(given):
            return False
    return True


def _gates(model: FileModel, cls: ClassInfo, forward) -> tuple[frozenset, bool]:
    """(the forward parameters that switch the class's mode-dependent layers, whether the
    class depends on no mode once those layers are left out)."""
    params = set(forward.params) - {"self"}
    applied: dict[str, set] = {}  # `self.x` -> the gate of each application (None: ungated)
    skip: set = set()
    gates: set = set()
    for method in cls.methods.values():
        for site in method.calls:
            callee = site.callee or ""
            if callee.startswith("self.") and callee.count(".") == 1:
                gate = _gate_of(model, site.node, params) if method is forward else None
                applied.setdefault(callee, set()).add(gate)
            elif method is forward and (gate := _rate_or_flag(site, params)) is not None:
                skip.add(site.node)  # `F.dropout(h, p, training=flag)`, `nn.Dropout(rate)(h)`
                gates.add(gate)
    for method in cls.methods.values():
        for site in method.calls:
            statement = site.statement
            if type(statement) is not cst.Assign or statement.value is not site.node:
                continue
            targets = [dotted_name(t.target) for t in statement.targets]
            uses = [applied.get(t) for t in targets if t and t.startswith("self.")]
            if uses and all(u and None not in u for u in uses):
                found, _ = _calls_dependence(model, [site], 0)
                if found:
                    skip.add(site.node)
                    gates.update(g for u in uses for g in u)
    if not gates:
        return frozenset(), False
    found, _ = _class_dependence(model, cls, 0, frozenset(skip))
    return frozenset(gates), found is False


_DROPOUT_LAYERS = tuple(f"torch.nn.{name}" for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                                        "AlphaDropout", "FeatureAlphaDropout"))


def _rate_or_flag(site, params: set) -> Optional[str]:
    """The forward parameter that can switch off a dropout that `forward` builds or applies:
    its `training=` flag (`F.dropout(h, 0.5, training=is_training)`), else its rate
    (`nn.Dropout(d)(h)`, `F.dropout(h, p=d)`). A call giving it 0 or False runs no dropout."""
    qualified = site.qualname or ""
    positional = [a.value for a in site.node.args if a.keyword is None]
    if qualified in _DROPOUT_LAYERS:
        rate = _keyword(site.node, "p") or (positional[0] if positional else None)
        return rate.value if type(rate) is cst.Name and rate.value in params else None
    if qualified not in _FUNCTIONAL_DROPOUT[:4]:
        return None
    flag = _keyword(site.node, "training")
    flag = flag if flag is not None else (positional[2] if len(positional) > 2 else None)
    if type(flag) is cst.Name and flag.value in params:
        return flag.value
    rate = _keyword(site.node, "p") or (positional[1] if len(positional) > 1 else None)
    if type(rate) is cst.Name and rate.value in params:
        return rate.value
    return None


def _gate_of(model: FileModel, node: cst.CSTNode, params: set) -> Optional[str]:
    """The parameter `p` of an enclosing `if p:` (the body, not the `else`), else None."""
    child = node
    for ancestor in model.ancestors(node):
        if type(ancestor) is cst.FunctionDef:
            return None
        if type(ancestor) is cst.If and child is ancestor.body:
            test = ancestor.test
            if type(test) is cst.Comparison and len(test.comparisons) == 1 and \
                    type(test.comparisons[0].operator) in (cst.Equal, cst.Is) and \
                    dotted_name(test.comparisons[0].comparator) == "True":
                test = test.left
            if type(test) is cst.Name and test.value in params:
                return test.value
        child = ancestor
    return None


def _false_literal(node: cst.BaseExpression) -> bool:
    return (type(node) is cst.Name and node.value in ("False", "None")) or _number(node) == 0


# -- modules without parameters ----------------------------------------------------------------

_BUILTINS = frozenset(dir(builtins))
_ADDS_MODULES = ("register_parameter", "add_module", "register_module")


# torch.nn layers that hold no parameters: running one records no graph unless its input has
# one (dropout has none either; whether it depends on the mode is mode_dependence's answer).
_TORCH_PARAMETER_FREE = {("torch.nn", name) for name in (
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "Softmax", "Softmax2d", "LogSoftmax", "Sigmoid",
    "Tanh", "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Mish", "Softplus", "Hardtanh", "Hardswish",
    "Hardsigmoid", "Identity", "Flatten", "Unflatten", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "PixelShuffle", "PixelUnshuffle", "ZeroPad2d", "ConstantPad1d",
    "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
    "CosineSimilarity", "PairwiseDistance")}


def parameter_free(model: FileModel, value: cst.BaseExpression) -> bool:
    """`value` builds a module class of this file that holds no parameters and no layers: its
    `__init__` (and the methods and functions of the file it calls) builds nothing but tensors
    and buffers (`ComputeDepthMaps()`, a renderer or a fixed transform). Running it is no
    forward pass of a model: no mode, no graph unless its input has one."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and \
            value.func.attr.value in SELF_RETURNING:
        value = value.func.value
    name = dotted_name(value.func) if type(value) is cst.Call else None
    if name and (model.imports.qualify_dotted(name) or "").rpartition(".")[::2] in _TORCH_PARAMETER_FREE:
        return True  # `up = nn.Upsample(size=(299, 299)).type(dtype)`
    cls = _class_in_force(model, name, value) if name and "." not in name else None
    if cls is None or "__init__" not in cls.methods or not all(
            base in ("torch.nn.Module", "nn.Module", "Module", "torch.nn.modules.module.Module") for base in cls.bases):
        return False
    if _hands_in_a_model(model, value):
        return False  # a composite (`Seq2Seq(encoder, decoder)`): it keeps the models it is given
    memo = model.cache.setdefault("mode_layers.parameter_free", {})
    if cls.node not in memo:
        memo[cls.node] = _builds_no_parameters(model, cls, cls.methods["__init__"].calls, 0)
    return memo[cls.node]


def _given_model_inside(model: FileModel, call: cst.Call) -> bool:
    from auditor.analysis.handed_models import given_argument  # imports roles, which imports this module's neighbours

    return given_argument(model, call, model.enclosing_function(call)) is not None


def _hands_in_a_model(model: FileModel, call: cst.Call) -> bool:
    """The construction call is given a model (`GreedySearchDecoder(encoder, decoder)`):
    whatever its `__init__` builds, the module it returns holds that model's parameters."""
    from auditor.analysis.roles import model_constructor, roles_of  # roles imports this module's neighbours

    function = model.enclosing_function(call)
    roles = roles_of(model)
    for argument in call.args:
        value = argument.value
        if type(value) is cst.Call and model_constructor(model, value) is not None:
            return True
        name = dotted_name(value)
        if name and roles.is_model(name, function):
            return True
    return False


def _builds_no_parameters(model: FileModel, cls: ClassInfo, calls: list, depth: int) -> bool:
    if depth > _MAX_DEPTH:
        return False
    for site in calls:
        qualified = site.qualname or ""
        callee = site.callee or ""
        last = (qualified or callee).rsplit(".", 1)[-1]
        if qualified.startswith("torch."):
            if last[:1].isupper():
                return False  # a layer, a container, nn.Parameter
            continue
        if callee.startswith("self."):
            method = callee[5:]
            if method in _ADDS_MODULES:
                return False
            if method in cls.methods and method != "__init__" and \
                    not _builds_no_parameters(model, cls, cls.methods[method].calls, depth + 1):
                return False
            continue
        if qualified:
            return False  # a function or class of another package: it may hand back a module
        if not callee or "." in callee or callee in _BUILTINS:
            continue  # `super().__init__()`, `eyes.size(0)`, `torch.stack(...).view(...)`, `len(x)`
        helpers = model.functions_named(callee) if "." not in callee else []
        if len(helpers) == 1 and helpers[0].cls is None and callee not in model.class_info:
            if not _builds_no_parameters(model, cls, helpers[0].calls, depth + 1):
                return False
            continue
        return False  # anything else may hand back a module
    return True


# -- a model class in a cell that does not parse -----------------------------------------------

def unparsed_class(model: FileModel, source: Any, value: cst.BaseExpression) -> Optional[str]:
    """The class `value` builds (`GPT(config)`) when the program defines and imports it
    nowhere but a cell of the notebook `source` that does not parse defines it (an
    exercise's blanks: `self.mlp = # your code here`): there are no layers to read, and the
    code cannot run as written. None otherwise."""
    while type(value) is cst.Call and type(value.func) is cst.Attribute and \
            value.func.attr.value in SELF_RETURNING + ("train",):
        value = value.func.value
    if type(value) is not cst.Call or type(value.func) is not cst.Name or not getattr(source, "piece_errors", None):
        return None
    name = value.func.value
    if name in model.class_info or name in model.bindings or model.functions_named(name) or \
            model.qualify_call(value) is not None or model.imports.stars:
        return None  # defined, bound or imported somewhere the tool reads
    cells = (getattr(source, "notebook", None) or {}).get("cells") or []
    defines = re.compile(rf"^[ \t]*class[ \t]+{re.escape(name)}\b", re.MULTILINE)
    for error in source.piece_errors:
        number, _ = source.location(error.line)
        if number is None or not 1 <= number <= len(cells) or not isinstance(cells[number - 1], dict):
            continue
        text = cells[number - 1].get("source", "")
        if defines.search("".join(text) if isinstance(text, list) else str(text)):
            return name
    return None


def project_classes(model: FileModel, project: Any, module: Optional[str]) -> Optional[OutsideClasses]:
    """The resolver that reads the classes this file imports from the run's other modules
    (their summaries, through the project index), one per file; None without a project."""
    if project is None or not module or not hasattr(project, "model_class"):
        return None
    found = model.cache.get("mode_layers.project")
    if found is None:
        from auditor.analysis.names import resolve_import

        def answer(qualified: str) -> Optional[tuple]:
            target = resolve_import(module, qualified)
            return project.model_class(*target) if target is not None else None

        found = model.cache["mode_layers.project"] = OutsideClasses(answer)
    return found
