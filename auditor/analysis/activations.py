"""Does a value come out of a softmax or a sigmoid? Through variables, models and layers.

`activation_of(expr)` follows shape-only operations (`squeeze`, `view`, indexing),
variables (every binding must agree), model calls (an `nn.Sequential` whose last layer
is `nn.Softmax`, a model class whose `forward` returns a softmax on every path, through
`self.layers` attributes) and tuple results (`recon, mu = vae(x)`). `log_softmax` and
`logsigmoid` are other functions, so they never match.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.alternatives import exclusive
from auditor.analysis.builds import unwrap_model
from auditor.analysis.head_slots import last_slot, slot_swaps, timm_head
from auditor.analysis.layer_loops import looped_last_layer
from auditor.analysis.ctor_flags import after_taken_return, flag_guard
from auditor.analysis.model import FileModel, subscript_key
from auditor.analysis.names import dotted_name, matches
from auditor.analysis.names import resolve_import
from auditor.analysis.reexports import defined_at
from auditor.analysis.roles import is_module_class, roles_of
from auditor.analysis.subclass_models import placeholder_only, subclass_output
from auditor.analysis.uses import source_order

SOFTMAX, SIGMOID = "softmax", "sigmoid"
# Not an activation: the raw output of an `nn.Linear` (TRN303 asks whether a model of another
# module ends in one). Read by the same walk; only layers produce it.
LOGITS = "logits"
# Not an activation either: the output of the module a constructor parameter hands in
# (`self.head = head` ... `return self.head(h)`). Phase 1 asks it of each parameter, so that a
# file building `Combined(Backbone(), SoftmaxHead())` reads the head it passes (see PASSED use).
PASSED = "passed"
_FUNCTIONS = {
    SOFTMAX: ("torch.softmax", "torch.nn.functional.softmax", "torch.special.softmax"),
    SIGMOID: ("torch.sigmoid", "torch.sigmoid_", "torch.nn.functional.sigmoid", "torch.special.expit"),
    LOGITS: (),
    PASSED: (),
}
_LAYERS = {SOFTMAX: ("torch.nn.Softmax",), SIGMOID: ("torch.nn.Sigmoid",), LOGITS: ("torch.nn.Linear",),
           PASSED: ()}
# The index that asks for every element of a container (a list or tuple a forward returns, one
# a loop walks): `for out in model(x): loss += bce(out, y)`.
ALL = "*"
_LAYER_NAMES = {SOFTMAX: "nn.Softmax", SIGMOID: "nn.Sigmoid", LOGITS: "nn.Linear", PASSED: ""}
# What a forward ending in each kind returns, as the messages say it.
# Marks evidence that holds on one branch's configuration only (a model chosen by an `if`).
BRANCH_BUILT = " branch (one of "
_RETURNS = {SOFTMAX: "a softmax", SIGMOID: "a sigmoid", LOGITS: "the logits of an nn.Linear",
            PASSED: "the output of a module its constructor was given"}
SHAPE_METHODS = {"squeeze", "unsqueeze", "view", "reshape", "flatten", "float", "double", "to", "contiguous",
                  "permute", "transpose", "clone", "type", "cpu", "cuda", "view_as", "reshape_as", "half",
                  "resize", "resize_as", "expand", "expand_as", "detach"}
# The same operations as functions of torch: the first argument's values, rearranged.
SHAPE_FUNCTIONS = ("torch.squeeze", "torch.unsqueeze", "torch.reshape", "torch.flatten", "torch.transpose",
                    "torch.permute", "torch.clone")
# Functions joining a sequence of tensors (its first argument) into one.
_JOINING_FUNCTIONS = ("torch.cat", "torch.concat", "torch.concatenate", "torch.stack", "torch.vstack",
                      "torch.hstack")
# Value operations that keep what a tensor holds: clamped probabilities are still probabilities
# (`torch.clamp(x.sigmoid_(), min=1e-4, max=1 - 1e-4)`, detection heads), clamped logits logits.
_BOUNDING_METHODS = {"clamp", "clamp_", "clip", "clip_"}
_BOUNDING_FUNCTIONS = ("torch.clamp", "torch.clip")
# Averages over a batch, ensemble or augmentation dimension: the mean of probabilities is
# probabilities (`torch.stack([a(x), b(x)]).mean(0)`), the mean of logits logits.
_AVERAGING_METHODS = {"mean"}
_AVERAGING_FUNCTIONS = ("torch.mean",)
# torchvision classifiers whose forward ends with this attribute's module (in train mode too:
# inception and googlenet return auxiliary outputs there, and are left out).
_TORCHVISION_HEADS = {
    "fc": ("resnet", "resnext", "wide_resnet", "regnet_", "shufflenet_"),
    "classifier": ("densenet", "vgg", "alexnet", "mobilenet_v2", "mobilenet_v3", "efficientnet", "mnasnet"),
}


class Activations:
    def __init__(self, model: FileModel, project=None, module_name: Optional[str] = None,
                 is_package: bool = False) -> None:
        self.model = model
        self.roles = roles_of(model)
        self._active: set = set()
        # Reading a model's forward as it runs in eval mode (`self.training` False): the model
        # was called after `model.eval()` (a validation loss on `if not self.training:` probs).
        self._eval = False
        # Other modules' model classes, through their phase-1 summaries (see project.py).
        self.project = project
        self.module_name = module_name
        self.is_package = is_package
        # Model classes being read for one construction, innermost last: (class, the call
        # `Combined(Backbone(), SoftmaxHead())`), so `self.head = head` reads the head given there.
        self._building: list = []
        # Phase 1 (`passed_outputs`): (class name, parameter) whose handed module stands for PASSED.
        self._passing: Optional[tuple] = None

    def activation_of(self, node: Optional[cst.BaseExpression], function, kind: str,
                      index: Optional[int] = None, depth: int = 0) -> Optional[str]:
        """Evidence that `node` (element `index` of it, for tuples) is the output of `kind`."""
        if node is None or depth > 8:
            return None
        key = (id(node), function, kind, index)
        if key in self._active:
            return None
        self._active.add(key)
        try:
            return self._activation(node, function, kind, index, depth)
        finally:
            self._active.discard(key)

    def _activation(self, node, function, kind, index, depth) -> Optional[str]:
        model = self.model
        if index == ALL:
            if isinstance(node, (cst.Tuple, cst.List)):
                elements = node.elements
                if not elements or any(isinstance(e, cst.StarredElement) for e in elements):
                    return None
                found = [self.activation_of(e.value, function, kind, None, depth + 1) for e in elements]
                return found[0] if all(found) else None
            if isinstance(node, (cst.ListComp, cst.GeneratorExp)):  # `[F.softmax(o, 1) for o in outs]`
                return self.activation_of(node.elt, function, kind, None, depth + 1)
            if not isinstance(node, (cst.Name, cst.Attribute, cst.Call)):
                return None
        elif isinstance(node, (cst.Tuple, cst.List)) and index is not None:
            if type(index) is int and index < len(node.elements):
                return self.activation_of(node.elements[index].value, function, kind, None, depth + 1)
            return None
        if type(index) is str and index != ALL:  # an element of a dict: `out['exist']`
            return self._dict_element(node, function, kind, index, depth)
        if isinstance(node, cst.IfExp):  # `x if self.training else F.softmax(x, 1)`
            mode = _training_test(node.test)
            if self._eval and mode is not None:
                return self.activation_of(node.body if not mode else node.orelse, function, kind, index, depth + 1)
            body = self.activation_of(node.body, function, kind, index, depth + 1)
            return body if body and self.activation_of(node.orelse, function, kind, index, depth + 1) else None
        if isinstance(node, cst.Subscript):
            key = subscript_key(node)
            if key is not None and index is None:  # `output['exist']`: that element of a dict
                return self.activation_of(node.value, function, kind, key, depth + 1)
            position = _position(node)
            if position is not None and index is None:  # `model(x)[0]`: that element of a tuple
                found = self.activation_of(node.value, function, kind, position, depth + 1)
                if found:
                    return found
            return self.activation_of(node.value, function, kind, index, depth + 1)
        if isinstance(node, cst.BinaryOperation):  # `(p1 + p2) / 2`: an ensemble's mean
            return self._averaged(node, function, kind, index, depth) if kind in (SOFTMAX, SIGMOID) else None
        if isinstance(node, cst.Call):
            qualified = model.qualify_call(node)
            func = node.func
            if index is None and _FUNCTIONS[kind] and matches(qualified, *_FUNCTIONS[kind]):
                return f"{dotted_name(func) or kind}()"
            if matches(qualified, *SHAPE_FUNCTIONS, *_BOUNDING_FUNCTIONS, *_AVERAGING_FUNCTIONS) and node.args:
                # `torch.squeeze(pred)`, `torch.mean(torch.stack(probs), dim=0)`
                return self.activation_of(node.args[0].value, function, kind, index, depth + 1)
            if matches(qualified, *_JOINING_FUNCTIONS) and node.args and index is None and not node.args[0].star:
                # `torch.cat([net(x) for x in xs])`: joined outputs hold what every element holds
                found = self.activation_of(node.args[0].value, function, kind, ALL, depth + 1)
                return f"every tensor joined by {dotted_name(func) or 'it'}() is {found}" if found else None
            if isinstance(func, cst.Attribute) and qualified is None:
                if func.attr.value in (kind, f"{kind}_") and kind not in (LOGITS, PASSED) and index is None \
                        and not module_attribute(model, func, function):  # `x.sigmoid_()` in place too
                    return f".{func.attr.value}()"
                if func.attr.value in SHAPE_METHODS or func.attr.value in _BOUNDING_METHODS or \
                        func.attr.value in _AVERAGING_METHODS:
                    return self.activation_of(func.value, function, kind, index, depth + 1)
            if qualified is not None and index is None and kind not in (LOGITS, PASSED) \
                    and not qualified.startswith(("torch.", "numpy.", "np.")):
                found = self._imported_helper(qualified, kind)
                if found:
                    return found
            if index is None and type(func) is cst.Name and kind != PASSED and not model.bindings.get(func.value):
                found = self._shared_model(func.value, kind)  # `from setup import model`, a lesson's part
                if found:
                    return found
            if isinstance(func, cst.Call) and matches(model.qualify_call(func), *_LAYERS[kind]):
                return _LAYER_NAMES[kind]
            if type(func) is cst.Call:  # `Net()(x)`: a model built and called at once
                return self._constructed_output(func, kind, index, depth + 1)
            callee = dotted_name(func)
            if callee and callee.endswith((".forward", ".__call__")) and callee.count(".") > callee.startswith("self."):
                callee = callee.rsplit(".", 1)[0]  # `model.forward(x)` is `model(x)` (`self.forward` is read as such)
            if callee and qualified is None:
                return self._model_output(callee, function, kind, index, depth, node) or \
                    self._helper_output(callee, node, function, kind, index, depth)
            return None
        if isinstance(node, (cst.Name, cst.Attribute)):
            name = dotted_name(node)
            if name is None:
                return None
            bindings = reaching_bindings(model, [b for b in model.bindings_of(name, function)
                                                 if b.kind in ("assign", "with")], node, function)
            # `for out in outputs:` around the use: the loop's target is an element of what it walks.
            bindings += [b for b in model.bindings_of(name, function)
                         if b.kind == "for" and b.function is function and model.is_within(node, b.statement.body)]
            if self._eval:
                bindings = self._eval_bindings(bindings, function)
            if self._building:  # `if self.task == "classification": x = F.softmax(x, 1)`
                bindings = self._flag_bindings(bindings, function)
            if not bindings:
                walked = _comprehension_source(model, node, name)  # `sum(ce(p, y) for p in probs)`
                if walked is None:
                    return None
                return self.activation_of(walked, function, kind, ALL, depth + 1)
            found = []
            for b in bindings:
                if b.kind == "for":
                    evidence = self._walked_element(b, kind, depth + 1)
                elif type(b.value) is cst.List and not b.value.elements and index is not None and b.index is None:
                    evidence = self._appended(name, b, kind, depth + 1)  # `outs = []` filled by appends
                elif b.index is not None:
                    if isinstance(b.value, (cst.Tuple, cst.List)):
                        return None
                    evidence = self.activation_of(b.value, b.function, kind, b.index, depth + 1)
                else:
                    evidence = self.activation_of(b.value, b.function, kind, index, depth + 1)
                if evidence is None:
                    return None
                found.append(evidence)
            return f"`{name}` = {found[0]}" if not found[0].startswith("`") else found[0]
        return None

    def _helper_output(self, callee: str, call: cst.Call, function, kind, index, depth) -> Optional[str]:
        """What a function of this file returns, on every path, when it is not a model:
        `def predict(net, x): return F.softmax(net(x), 1)` (module-level, or defined in an
        enclosing function), or a method other than forward of a model class this file builds
        (`clf.predict_proba(x)` with `clf = Clf()`)."""
        model = self.model
        if kind in (LOGITS, PASSED) or depth > 6:
            return None
        if "." not in callee:
            if model.bindings_of(callee, function) or model.class_info.get(callee):
                return None
            helpers = [i for i in model.function_info.values() if i.name == callee and i.cls is None and (
                i.parent is None or model.is_within(call, i.parent))]
            nested = [i for i in helpers if i.parent is not None]
            helpers = nested or helpers
            if not helpers and model.imports.stars and index is None and self.project is not None \
                    and self.module_name and hasattr(self.project, "get"):
                target = defining_module(self.project, self.module_name, callee)  # `from utils import *`
                return self._imported_helper(None, kind, target) if target[0] != self.module_name else None
            if len(helpers) != 1:
                return None
            found = self._returned(helpers[0], kind, index, depth)
            return f"`{callee}()` returns {found}" if found else None
        head, _, attr = callee.rpartition(".")
        if attr in ("forward", "__call__") or "." in head or head == "self":
            return None
        owners = set()
        for b in reaching_bindings(model, model.bindings_of(head, function), call, function):
            value = unwrap_model(model, b.value) if b.kind == "assign" and b.index is None else None
            cls = model.class_info.get(dotted_name(value.func) or "") if type(value) is cst.Call else None
            if cls is None or not is_module_class(model, cls):
                return None
            owners.add(cls.name)
        if len(owners) != 1:
            return None
        method = model.class_info[owners.pop()].methods.get(attr)
        found = self._returned(method, kind, index, depth) if method is not None else None
        return f"`{callee}()` returns {found}" if found else None

    def _shared_model(self, name: str, kind) -> Optional[str]:
        """A model built at the top level of another module: imported, or bound by the files
        run before this one (see module_objects.py)."""
        from auditor.analysis.module_objects import MODEL, shared_object

        found = shared_object(self.model, self.project, self.module_name, self.is_package, name)
        if found is None or found[0] != MODEL or found[1] != kind:
            return None
        return f"{found[2]}, a model whose forward returns {_RETURNS[kind]}"

    def _imported_helper(self, qualified: Optional[str], kind, target: Optional[tuple] = None) -> Optional[str]:
        """`from utils import predict` ... `predict(net, x)`: what another module's summary
        says its function returns (see `class_outputs`)."""
        project = self.project
        if project is None or not self.module_name or not hasattr(project, "get"):
            return None
        if target is None:
            target = resolve_import(self.module_name, qualified, self.is_package) if qualified else None
            if target is None:
                return None
            target = defining_module(project, *target)
        outputs = getattr(project.get(target[0]), "outputs", None) or {}
        if outputs.get((helper_key(target[1]), kind, None)):
            return f"`{target[1]}()` of {target[0]} returns {_RETURNS[kind]}"
        return None

    def _returned(self, info, kind, index, depth) -> Optional[str]:
        """Evidence that every return of the function `info` gives `kind`'s output."""
        if not info.returns or any(r.value is None for r in info.returns):
            return None
        found = [self.activation_of(r.value, info.node, kind, index, depth + 1) for r in info.returns]
        return found[0] if all(found) else None

    def _in_eval_mode(self, callee: str, function, use: cst.CSTNode) -> bool:
        """`callee.eval()` (or `.train(False)`) runs before `use` in the same function, with no
        `callee.train()` between them in the source."""
        model = self.model
        if callee.startswith("self.") and callee.count(".") > 1:
            return False
        order = source_order(model)
        at = order.get(model.statement_of(use), order.get(use))
        if at is None:
            return False
        last_eval, last_train = -1, -1
        for site in model.calls_in(function):
            if dotted_name(site.receiver) != callee or site.method not in ("eval", "train"):
                continue
            where = order.get(site.statement, -1)
            if where >= at:
                continue
            off = site.method == "eval" or (site.node.args and type(site.node.args[0].value) is cst.Name
                                             and site.node.args[0].value.value == "False")
            if off:
                # Only an eval() on every path to the use: its block holds the use too (not
                # `if args.evaluate: model.eval(); ...; return` above the training loop).
                line = model.statement_of(site.statement)
                block = model.parent(line) if line is not None else None
                if block is not None and model.is_within(use, block):
                    last_eval = max(last_eval, where)
            else:
                last_train = max(last_train, where)
        return last_eval > last_train

    def _eval_bindings(self, bindings: list, function) -> list:
        """The bindings that hold in eval mode: none under `if self.training:`, and one under
        `if not self.training:` (or the else of `if self.training:`) replaces those above it."""
        model = self.model
        return self._guarded_bindings(bindings, function, lambda statement: _guard(model, statement, function))

    def _flag_bindings(self, bindings: list, function) -> list:
        """The bindings that hold for the construction being read: none under a flag test it
        makes false, and one under tests it makes true replaces those above it."""
        model = self.model
        cls = model.class_of(function)
        call = next((c for built, c in reversed(self._building) if built is cls), None) if cls else None
        if call is None:
            return bindings
        return self._guarded_bindings(bindings, function,
                                      lambda statement: flag_guard(model, statement, function, cls, call))

    def _guarded_bindings(self, bindings: list, function, guard_of) -> list:
        """Bindings in `function` whose guard (`guard_of(statement)`: "never", "always" or
        None) is "never" are dropped; the last one under an "always" guard replaces those above
        it. Bindings of other scopes are kept."""
        order = source_order(self.model)
        kept, certain = [], []
        for b in bindings:
            guard = guard_of(b.statement) if b.function is function else None
            if guard == "never":
                continue
            kept.append(b)
            if guard == "always":
                certain.append(order.get(b.statement, -1))
        if certain:
            last = max(certain)
            kept = [b for b in kept if b.function is not function or order.get(b.statement, -1) >= last]
        return kept

    def _walked_element(self, binding, kind, depth: int) -> Optional[str]:
        """The target of `for out in outputs:` (or `for i, out in enumerate(outputs)`, `for out,
        t in zip(outputs, targets)`): evidence that every element of what it walks is `kind`."""
        walked, index = binding.value, binding.index
        if index is not None:
            name = dotted_name(walked.func) if type(walked) is cst.Call else None
            if name not in ("enumerate", "zip") or self.model.qualify_call(walked) is not None:
                return None
            args = [a.value for a in walked.args if a.keyword is None and not a.star]
            position = index - 1 if name == "enumerate" else index
            if position < 0 or position >= len(args) or (name == "enumerate" and len(args) != 1):
                return None
            walked = args[position]
        return self.activation_of(walked, binding.function, kind, ALL, depth)

    def _appended(self, name: str, binding, kind, depth: int) -> Optional[str]:
        """`outs = []` filled by `outs.append(...)` in the same function (a forward collecting
        one output per head): every element is `kind` when everything appended is. Any other
        change to the list (`insert`, `extend`, `+=`) leaves it unknown."""
        model = self.model
        sites = [site for site in model.calls_in(binding.function) if dotted_name(site.receiver) == name]
        if not sites or any(site.method != "append" or len(site.node.args) != 1 for site in sites):
            return None
        if any(b.kind == "aug" for b in model.bindings_of(name, binding.function)):
            return None
        found = [self.activation_of(site.node.args[0].value, binding.function, kind, None, depth + 1)
                 for site in sites]
        return f"every element appended to `{name}` is {found[0]}" if all(found) else None

    def _dict_element(self, node, function, kind, key: str, depth: int) -> Optional[str]:
        """Evidence that element `key` of the dict `node` is the output of `kind`."""
        model = self.model
        if isinstance(node, cst.Dict):
            values = [e.value for e in node.elements if isinstance(e, cst.DictElement)
                      and isinstance(e.key, cst.SimpleString) and _string(e.key) == key]
            if len(values) != 1 or any(not isinstance(e, cst.DictElement) for e in node.elements):
                return None  # no such key, or `**spread` that may hold it
            return self.activation_of(values[0], function, kind, None, depth + 1)
        if isinstance(node, cst.Call):
            if dotted_name(node.func) == "dict" and model.qualify_call(node) is None:
                values = [a.value for a in node.args if a.keyword is not None and a.keyword.value == key]
                if len(values) != 1 or any(a.star for a in node.args):
                    return None
                return self.activation_of(values[0], function, kind, None, depth + 1)
            callee = dotted_name(node.func)
            if callee and model.qualify_call(node) is None:
                return self._model_output(callee, function, kind, key, depth, node) or \
                    self._handed_model_key(callee, function, kind, key)
            return None
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return None
        name = dotted_name(node)
        if name is None:
            return None
        # `output['exist'] = x` stores it; else what the name was bound to holds it.
        stored = reaching_bindings(model, [b for b in model.bindings_of(f"{name}[{key!r}]", function)
                                           if b.kind == "assign" and b.index is None], node, function)
        bindings = stored or reaching_bindings(model, [b for b in model.bindings_of(name, function)
                                                       if b.kind in ("assign", "with")], node, function)
        if not bindings:
            return self._keyed_parameter(name, function, kind, key)
        found = []
        for b in bindings:
            if b.index is not None:
                return None
            evidence = self.activation_of(b.value, b.function, kind, None if stored else key, depth + 1)
            if evidence is None:
                return None
            found.append(evidence)
        return f"`{name}[{key!r}]` = {found[0]}" if not found[0].startswith("`") else found[0]

    def _keyed_parameter(self, name: str, function, kind, key: str) -> Optional[str]:
        """`def loss(self, output, batch): ... output['exist']`, the dict from a model the file
        cannot see (built by a registry): every model of the project that returns a dict
        holding `key` holds the activation's output there."""
        info = self.model.info(function)
        if info is None or name not in info.params:
            return None
        return self._project_key_holders(kind, key)

    def _handed_model_key(self, callee: str, function, kind, key: str) -> Optional[str]:
        """`output = net(batch)` ... `output['exist']`, with `net` a parameter the function
        never rebinds (a trainer handed a model built by a registry): every model of the
        project that returns a dict holding `key` holds the activation's output there."""
        info = self.model.info(function)
        if info is None or callee not in info.params or \
                any(b.kind != "param" for b in self.model.bindings_of(callee, function) if b.function is function):
            return None
        return self._project_key_holders(kind, key)

    def _project_key_holders(self, kind, key: str) -> Optional[str]:
        if self.project is None:
            return None
        tables = getattr(self.project, "output_keys", None)
        holders = tables(key) if tables is not None else {}
        if not holders or any(found != kind for found in holders.values()):
            return None
        classes = ", ".join(f"{cls} in {module}" for module, cls in sorted(holders)[:2])
        return f"every model of the project that returns {key!r} returns a {kind} there ({classes})"

    def _model_output(self, callee: str, function, kind, index, depth,
                      use: Optional[cst.CSTNode] = None) -> Optional[str]:
        """The last activation of a model called as `callee(...)` (at `use`, when given: only
        the bindings that reach it count, `model = nn.Linear(...)` replaced by `model = Net()`)."""
        if not self._eval and use is not None and self._in_eval_mode(callee, function, use):
            self._eval = True
            try:
                found = self._model_output(callee, function, kind, index, depth, use)
            finally:
                self._eval = False
            if found:
                return found if found.startswith("in eval mode") else f"in eval mode, {found}"
            return None
        model = self.model
        roles = self.roles
        if callee in ("self", "self.forward", "self.__call__"):
            # `logits = self(x)` in `training_step`: the class's own forward.
            cls = model.class_of(function)
            if cls is not None and is_module_class(model, cls):
                return self._class_output(cls, kind, index, depth)
            return None
        bindings = [b for b in model.bindings_of(callee, function) if b.kind == "assign" and b.index is None] \
            or self._installed_on_parameter(callee, function)
        if not bindings and index is None:  # `for layer in self.layers: x = layer(x)`
            looped = looped_last_layer(model, function, callee, use)
            if looped is not None:
                last = looped[1]
                if type(last) is cst.Call and matches(model.qualify_call(last), *_LAYERS[kind]):
                    return f"`{callee}` walks `{looped[0]}`, whose last layer is {_LAYER_NAMES[kind]}"
                return None
        if not bindings and callee.startswith("self.") and callee.count(".") == 1:
            # `return self.classify(h)` in forward: what that method of the class returns
            cls = model.class_of(function)
            method = cls.methods.get(callee[5:]) if cls is not None else None
            if method is not None and method.returns and method.node is not function:
                found = [self.activation_of(r.value, method.node, kind, index, depth + 1) if r.value is not None
                         else None for r in method.returns]
                return f"`{callee}()` returns {found[0]}" if all(found) else None
        if callee.startswith("self.") and callee.count(".") == 1 and \
                placeholder_only(model, callee, bindings):
            found = self._subclass_installed(callee, function, kind, index)
            if found is not None:
                return found
        if index is None and bindings:
            replaced = self._replaced_head(callee, bindings, function, kind, depth, use)
            if replaced is not None:  # the model's last layer was swapped: that layer decides
                return replaced or None
        if use is not None and len(bindings) > 1:
            reaching = reaching_bindings(model, bindings, use, function)
            # (`net = net.train()` reaching: what reaches it is the question, so all of them.)
            if not any(dotted_name(unwrap_model(model, b.value)) == callee or
                       self._handed_back(unwrap_model(model, b.value), b.function, callee) for b in reaching):
                bindings = reaching
        layered = []
        handed_in = False  # `self.model = model` in __init__: the model comes from outside
        rebound = 0  # `model = model.to(device)`, `model = model.train()`: the same object
        handed: list = []  # (method, parameter) for `self.model = model`
        built: list = []  # the constructions whose model ends in the activation
        other_branches: list = []  # constructions of models that do not
        for b in bindings:
            value = unwrap_model(model, b.value)
            if dotted_name(value) == callee or self._handed_back(value, b.function, callee):
                rebound += 1
                continue
            owner = model.info(b.function)
            if type(value) is cst.Name and owner is not None and value.value in owner.params:
                handed_in = True
                handed.append((b.function, value.value))
                continue
            if type(value) in (cst.Name, cst.Attribute) and dotted_name(value) and depth < 6:
                # `model = backbone.to(device)`: another name for the model `backbone` holds
                evidence = self._model_output(dotted_name(value), b.function, kind, index, depth + 1, value)
                if evidence is None:
                    return None
                layered.append(f"= {evidence}")
                continue
            if type(value) is cst.Subscript:
                # `else: model = checkpoint['model']` (resuming): the model another branch may
                # build is decided below, as for a build of another class.
                other_branches.append(b)
                continue
            if not isinstance(value, cst.Call):
                return None
            evidence = self._constructed_output(value, kind, index, depth) or \
                self._added_last(callee, b, value, kind, index)
            if evidence is None:
                # `if args.model == 'cnn': net = CNN() elif ...: net = MLP()`: another branch's
                # model; decided below, once every binding is read.
                other_branches.append(b)
                continue
            layered.append(evidence)
            built.append(b)
        if other_branches:
            # One branch builds the activation's model: on the configuration that picks it the
            # loss gets its output. Only when the builds are alternatives of one `if`.
            if not layered or handed_in or len(built) != len(layered) or \
                    not exclusive(model, [b.statement for b in built + other_branches]):
                return None
            return f"`{callee}`, when built by its `{dotted_name(unwrap_model(model, built[0].value).func)}`" \
                   f"{BRANCH_BUILT}{len(built) + len(other_branches)} alternatives), whose {layered[0]}"
        if layered and handed and len(handed) + len(layered) == len(bindings) - rebound \
                and callee.startswith("self.") and kind != PASSED:
            # `self.model = model` in `__init__` and `self.model = pruned` later, where `pruned`
            # is that model handed back: both bindings must end in the activation.
            given = [self._handed_output(f, param, kind, index, depth) for f, param in handed]
            if all(given):
                handed_in = False
        if layered and not handed_in:
            joiner = " " if layered[0].startswith("= ") else ", whose "
            return f"`{callee}`{joiner}{layered[0]}"
        if handed and not layered and callee.startswith("self."):
            # `Combined(Backbone(), SoftmaxHead())` being read: the module given for `head`.
            given = self._given_at_construction(handed, kind, index, depth)
            if given is not None or kind == PASSED:
                return given or None
            # `Trainer(net, ...)` with `self.model = model` in `__init__`: what the callers pass.
            given = [self._handed_output(f, param, kind, index, depth) for f, param in handed]
            if all(given):
                return f"`{callee}` = {given[0]}"
        info = model.info(function)
        if len(bindings) == rebound and info is not None and callee in info.params:
            # `def train(classifier, ...)`: the models its callers pass, when they all agree.
            given = self._handed_output(function, callee, kind, index, depth)
            if given:
                return given
        if (handed_in and not layered or info is not None and callee in info.params) \
                and roles.is_model(callee, function):
            # A model handed in: only when every model class of this file ends in the activation.
            candidates = self._top_level_model_classes()
            outputs = [self._class_output(c, kind, index, depth) for c in candidates]
            if candidates and all(outputs):
                return f"`{callee}` (a {candidates[0].name}), whose {outputs[0]}"
        return None

    def _handed_back(self, value: cst.BaseExpression, function, callee: str) -> bool:
        """`self.model = prune_layer(model, i)` with `model = self.model` above it: a function of
        this file that returns the model it is given (changed in place, or layers swapped
        inside it) hands back the same model, as `model.to(device)` does."""
        model = self.model
        if type(value) is not cst.Call or type(value.func) is not cst.Name:
            return False
        functions = model.functions_named(value.func.value)
        info = model.info(functions[0].node) if len(functions) == 1 else None
        if info is not None:
            if info.cls is not None or not info.returns:
                return False
            names = {dotted_name(r.value) if r.value is not None and type(r.value) is cst.Name else None
                     for r in info.returns}
            name = names.pop() if len(names) == 1 else None
            position = info.positional.index(name) if name in info.positional else None
        else:  # imported, or star-imported, from a module of the run: its summary says
            name, position = self._returned_parameter(value)
        if name is None or position is None:
            return False
        given = _argument(value, name, position)
        given_name = dotted_name(given) if given is not None else None
        if given_name == callee:
            return True
        # A local alias: every binding of the name in this function is the model itself.
        aliases = model.bindings_of(given_name, function) if given_name else []
        return bool(aliases) and all(b.kind == "assign" and b.index is None and b.function is function
                                     and dotted_name(unwrap_model(model, b.value)) == callee for b in aliases)

    def _returned_parameter(self, call: cst.Call) -> tuple:
        """(parameter, position) that a function of another module of the run returns on every
        path (`returned_models`), else (None, None)."""
        project = self.project
        if project is None or not self.module_name or not hasattr(project, "get"):
            return None, None
        qualified = self.model.qualify_call(call)
        if qualified is not None:
            target = resolve_import(self.module_name, qualified, self.is_package)
        elif self.model.imports.stars:
            target = (self.module_name, dotted_name(call.func))
        else:
            return None, None
        target = defining_module(project, *target) if target is not None and target[1] else None
        if target is None or target[0] == self.module_name:
            return None, None
        found = (getattr(project.get(target[0]), "returned_models", None) or {}).get(target[1])
        if not found or found[0] != "param":
            return None, None
        return found[1], found[2]

    def _subclass_installed(self, callee: str, function, kind, index) -> Optional[str]:
        """`out = self.model(x)` in a base class's `fit`, the model put there by a subclass's
        `__init__` (this module or another): one subclass's model ending in the activation
        is enough, as that subclass's training runs this very loss."""
        cls = self.model.class_of(function)
        info = self.model.info(function)
        if cls is None or info is None or self.project is None or is_module_class(self.model, cls):
            return None
        found = subclass_output(self.project, cls.name, callee[5:], info.name, kind, index, _summarized)
        if found is None:
            return None
        subclass, module, name = found
        return f"`{callee}` as subclass {subclass} installs it: {name} (in {module}), whose forward() " \
               f"returns {_RETURNS[kind]}"

    def _replaced_head(self, callee: str, bindings: list, function, kind, depth,
                       use: Optional[cst.CSTNode]) -> Optional[str]:
        """Fine-tuning: `model = models.resnet50(...)` (or a class of this file whose forward
        returns `self.fc(...)`), then `model.fc = nn.Sequential(..., nn.Softmax(dim=1))`. None
        when no last layer is replaced; "" when one is, by a module not ending in `kind`."""
        model = self.model
        built = {unwrap_model(model, b.value) for b in bindings}
        built = [v for v in built if dotted_name(v) != callee]
        if len(built) != 1 or type(built[0]) is not cst.Call:
            return None
        attr = self._last_attribute(built[0]) or timm_head(model, built[0], callee, function)
        if attr is None:
            return None
        swaps = [b for b in model.bindings_of(f"{callee}.{attr}", function) if b.kind == "assign"]
        if use is not None:
            swaps = reaching_bindings(model, swaps, use, function)
        if not swaps:  # `model.classifier[6] = nn.Sequential(...)`: the last slot of the head
            return self._replaced_slot(callee, attr, built[0], function, kind, depth, use)
        found = []
        for b in swaps:
            evidence = self._swapped_in(b.value, b.function, kind, depth) if b.index is None else None
            if not evidence:
                return ""
            found.append(evidence)
        return f"`{callee}`, whose last layer `{attr}` is replaced by a module whose {found[0]}"

    def _swapped_in(self, value: cst.BaseExpression, function, kind, depth) -> Optional[str]:
        """The activation a module put in a model's last slot ends in: built there
        (`model.fc = nn.Sequential(...)`) or first bound to a name (`classifier =
        nn.Sequential(OrderedDict([...]))` ... `model.classifier = classifier`)."""
        value = unwrap_model(self.model, value)
        if type(value) is cst.Call:
            return self._constructed_output(value, kind, None, depth + 1)
        name = dotted_name(value) if type(value) in (cst.Name, cst.Attribute) else None
        if name is None or depth > 6:
            return None
        return self._model_output(name, function, kind, None, depth + 1, value)

    def _averaged(self, node: cst.BinaryOperation, function, kind, index, depth) -> Optional[str]:
        """A mixture of activation outputs: `p1 + p2` (every term one), divided or weighted by a
        number (`(p1 + p2) / 2`, `0.5 * p1 + 0.5 * p2`, `... / len(views)`)."""
        operator = type(node.operator)
        if operator is cst.Add:
            left = self.activation_of(node.left, function, kind, index, depth + 1)
            right = left and self.activation_of(node.right, function, kind, index, depth + 1)
            return f"a sum of outputs each of which is {left}" if left and right else None
        if operator is cst.Divide and _is_number(self.model, node.right):
            return self.activation_of(node.left, function, kind, index, depth + 1)
        if operator is cst.Multiply:
            if _is_number(self.model, node.left):
                return self.activation_of(node.right, function, kind, index, depth + 1)
            if _is_number(self.model, node.right):
                return self.activation_of(node.left, function, kind, index, depth + 1)
        return None

    def _replaced_slot(self, callee: str, attr: str, call: cst.Call, function, kind, depth,
                       use: Optional[cst.CSTNode]) -> Optional[str]:
        """`model.classifier[6] = ...` (or `[-1]`) above the use, on a torchvision model whose
        head is an nn.Sequential ending at that index. None when no such slot is replaced."""
        model = self.model
        last = last_slot(model.qualify_call(call), attr)
        swaps = slot_swaps(model, f"{callee}.{attr}", last, function) if last is not None else []
        if use is not None:
            order = source_order(model)
            at = order.get(use, -1)
            swaps = [(statement, value) for statement, value in swaps
                     if model.enclosing_function(statement) is not function or order.get(statement, at) < at]
        if not swaps:
            return None
        statement, value = swaps[-1]  # the one in force at the use
        evidence = self._swapped_in(value, model.enclosing_function(statement), kind, depth)
        if not evidence:
            return ""
        slot = model.code(statement.targets[0].target)
        return f"`{callee}`, whose last layer `{slot}` is replaced by a module whose {evidence}"

    def _last_attribute(self, call: cst.Call) -> Optional[str]:
        """The attribute whose module a model's forward ends with: a torchvision classifier's
        head, or `return self.fc(x)` on every path of a class of this file."""
        model = self.model
        qualified = model.qualify_call(call)
        if qualified is not None:
            if not qualified.startswith("torchvision.models."):
                return None
            name = qualified.rsplit(".", 1)[-1]
            return next((attr for attr, prefixes in _TORCHVISION_HEADS.items() if name.startswith(prefixes)), None)
        cls = model.class_info.get(dotted_name(call.func) or "")
        forward = cls.methods.get("forward") if cls is not None else None
        if forward is None or not forward.returns:
            return None
        attrs = set()
        for ret in forward.returns:
            value = ret.value
            name = dotted_name(value.func) if type(value) is cst.Call else None
            attrs.add(name[5:] if name and name.startswith("self.") and name.count(".") == 1 else None)
        return attrs.pop() if len(attrs) == 1 else None

    def _installed_on_parameter(self, callee: str, function) -> list:
        """`pl_module.evaluator(x)` in a hook whose object another hook of the same class was
        given and equipped (`pl_module.evaluator = Evaluator(...)`, a Lightning callback): the
        bindings of that attribute, when every one of the file's is such a hook's."""
        model = self.model
        head, _, attr = callee.partition(".")
        info = model.info(function)
        cls = model.class_of(function)
        if not attr or "." in attr or head == "self" or cls is None or info is None or head not in info.params:
            return []
        found = model.bindings.get(callee, [])
        for b in found:
            owner = model.info(b.function)
            if b.kind != "assign" or b.index is not None or owner is None or owner.cls is not cls \
                    or head not in owner.params:
                return []
        return list(found)

    def _added_last(self, callee: str, binding, value: cst.Call, kind, index) -> Optional[str]:
        """`seq = nn.Sequential()` filled by `seq.add_module(name, layer)` calls in the same
        function: the layer added last (in source order) is the model's last."""
        model = self.model
        if index is not None or value.args or not matches(model.qualify_call(value), "torch.nn.Sequential"):
            return None
        added = [site for site in model.calls_in(binding.function)
                 if site.method == "add_module" and dotted_name(site.receiver) == callee and len(site.node.args) == 2]
        if not added:
            return None
        order = source_order(model)
        last = max(added, key=lambda site: order.get(site.statement, -1)).node.args[1].value
        if isinstance(last, cst.Call) and matches(model.qualify_call(last), *_LAYERS[kind]):
            return f"last module added is {_LAYER_NAMES[kind]}"
        return None

    def _sequential_last(self, call: cst.Call, kind) -> Optional[str]:
        """Evidence that the layers given to `call` (`nn.Sequential(...)`, or the
        `super().__init__(...)` of an nn.Sequential subclass) end in `kind`'s layer."""
        model = self.model
        last = _last_layer(call) or self._listed_last(call)
        held = dotted_name(last) if type(last) in (cst.Name, cst.Attribute) else None
        if held and (type(last) is cst.Name or held.startswith("self.")):
            # `act = nn.Softmax(dim=1)` ... `nn.Sequential(..., act)`, or a layer the model
            # holds: `self.softmax = nn.Softmax()` ... `nn.Sequential(self.fc, self.softmax)`
            bindings = model.bindings_of(held, model.enclosing_function(call))
            values = [b.value for b in bindings if b.kind == "assign"]
            last = values[0] if len(values) == 1 and all(b.index is None for b in bindings) else last
        if isinstance(last, cst.Call) and matches(model.qualify_call(last), *_LAYERS[kind]):
            return f"last layer is {_LAYER_NAMES[kind]}"
        return None

    def _listed_last(self, call: cst.Call) -> Optional[cst.BaseExpression]:
        """`nn.Sequential(*layers)`: the last layer of the list as the function builds it
        before the call (the last `layers.append(...)` above it, else the literal's last)."""
        model = self.model
        args = call.args
        if len(args) != 1 or args[0].star != "*" or type(args[0].value) is not cst.Name:
            return None
        name = args[0].value.value
        function = model.enclosing_function(call)
        bindings = model.bindings_of(name, function)
        if len(bindings) != 1 or bindings[0].kind != "assign" or type(bindings[0].value) is not cst.List:
            return None  # built otherwise (`layers += [...]`, a comprehension): cannot tell
        order = source_order(model)
        at = order.get(call, -1)
        appended = [site for site in model.calls_in(function) if dotted_name(site.receiver) == name]
        if any(site.method not in ("append",) for site in appended):
            return None  # extend/insert/pop: the order is not read here
        before = [site for site in appended if order.get(site.node, at) < at and len(site.node.args) == 1]
        if before:
            last = max(before, key=lambda site: order.get(site.node, -1))
            # `if use_softmax: layers.append(nn.Softmax(-1))`: the last layer depends on a flag.
            return None if _branches_away(model, last.node, call, function) else last.node.args[0].value
        elements = bindings[0].value.elements
        return elements[-1].value if elements and type(elements[-1]) is cst.Element else None

    def _factory_output(self, name: str, kind, index, depth) -> Optional[str]:
        """`model = build_model(...)`, a function of this file that returns a model on every path."""
        functions = self.model.functions_named(name)
        if len(functions) != 1 or not functions[0].returns or depth > 6:
            return None
        found = []
        for ret in functions[0].returns:
            value = unwrap_model(self.model, ret.value) if ret.value is not None else None
            if type(value) is cst.Call:
                evidence = self._constructed_output(value, kind, index, depth + 1)
            elif value is not None and dotted_name(value):
                evidence = self._model_output(dotted_name(value), functions[0].node, kind, index, depth + 1, ret)
            else:
                evidence = None
            if not evidence:
                return None
            found.append(evidence)
        return f"{name}() returns a model whose {found[0].split(', whose ', 1)[-1]}"

    def _handed_output(self, function, param: str, kind, index, depth) -> Optional[str]:
        """The last activation of the model that every caller of `function` passes as `param`."""
        from auditor.analysis.handed import handed_to

        if depth > 6:  # (two callers up from a loss reading `torch.cat([net(x) for x in xs])`)
            return None
        given = handed_to(self.model, self.project, self.module_name, function, param)
        if not given:
            return None
        # Each construction of a class is an object of its own (`Stepper(SoftmaxHead())` beside
        # `Stepper(LogitsHead())`): which of them is trained is not known, so all must agree.
        info = self.model.info(function)
        some_caller = kind in (SOFTMAX, SIGMOID) and info is not None and info.name != "__init__"
        found = []
        for how, *what in given:
            if how == "expr":
                value = unwrap_model(self.model, what[0])
                if type(value) is cst.Call:
                    evidence = self._constructed_output(value, kind, index, depth + 1)
                else:
                    name = dotted_name(value)
                    evidence = self._model_output(name, what[1], kind, index, depth + 1, value) if name else None
            else:
                evidence = self._described_output(what[0], kind, index)
            if not evidence and not some_caller:
                return None
            found.append(evidence)
        # (Through several functions, the model where it is built is what says most.)
        if all(found):
            return f"`{param}`, which its callers pass: {found[0].rsplit('which its callers pass: ', 1)[-1]}"
        # A shared loop (`train(loader, model, criterion)`) called by several scripts, one of
        # which hands it a model ending in the activation: the loss this function applies is
        # the same for every caller (its own, or what every caller passes), so that caller's
        # run feeds it probabilities.
        some = next((e for e in found if e), None)
        return f"`{param}`, which one of its {len(found)} callers passes: " \
               f"{some.rsplit('which its callers pass: ', 1)[-1]}" if some else None

    def _described_output(self, descriptor, kind, index) -> Optional[str]:
        """The last activation of an instance of a user class named by another module's summary."""
        if descriptor is not None and descriptor[0] == "classes":
            # The caller's branches build one of several classes: on the configuration that picks
            # a class ending in the activation, that is what the loss gets (as for a local build).
            for module, name in descriptor[1]:
                found = self._described_output(("class", module, name), kind, index)
                if found:
                    # (A lone class: the other branch resumes from a checkpoint.)
                    return f"when the caller's branch builds {name}{BRANCH_BUILT}{max(2, len(descriptor[1]))} " \
                           f"alternatives), {found}"
            return None
        if descriptor is None or descriptor[0] != "class":
            return None
        module, name = descriptor[1], descriptor[2]
        if module == self.module_name:
            cls = self.model.class_info.get(name)
            return self._class_output(cls, kind, index, 0) if cls is not None and is_module_class(self.model, cls) \
                else None
        if self.project is None or not hasattr(self.project, "get"):
            return None
        module, name = defining_module(self.project, module, name)
        outputs = getattr(self.project.get(module), "outputs", None) or {}
        return f"forward() returns {_RETURNS[kind]} ({name}, in {module})" \
            if _summarized(outputs, name, kind, index, self._eval) else None

    def _constructed_output(self, call: cst.Call, kind, index, depth) -> Optional[str]:
        model = self.model
        if type(call.func) is cst.Subscript:  # `MODELS[args.model](args)`
            return self._table_output(call, kind, index, depth)
        qualified = model.qualify_call(call)
        if matches(qualified, *_LAYERS[kind]) and index is None:  # `self.out = nn.Softmax(dim=1)`
            return f"module is {_LAYER_NAMES[kind]}"
        if matches(qualified, "torch.nn.Sequential") and index is None:
            return self._sequential_last(call, kind)
        name = dotted_name(call.func)
        cls = model.class_info.get(name) if name else None
        if cls is not None and is_module_class(model, cls):
            self._building.append((cls, call))
            try:
                return self._class_output(cls, kind, index, depth)
            finally:
                self._building.pop()
        if name and "." not in name and qualified is None:
            return self._factory_output(name, kind, index, depth) or self._star_imported_output(call, name, kind, index)
        return self._imported_output(call, kind, index)

    def _star_imported_output(self, call: cst.Call, name: str, kind: str, index) -> Optional[str]:
        """`from model import *` ... `Net()`: a class no definition or import of this file
        names, defined in (or re-exported by) a module of the run it star-imports."""
        project = self.project
        if not self.model.imports.stars or project is None or not self.module_name or not hasattr(project, "get") \
                or self.model.functions_named(name) or self.model.bindings.get(name):
            return None
        target = defining_module(project, self.module_name, name)
        if target[0] == self.module_name:
            return None
        return self._summarized_output(call, target, kind, index)

    def _table_output(self, call: cst.Call, kind, index, depth) -> Optional[str]:
        """A model built from a table of classes, `MODELS[name](args)` with `MODELS = {'gin':
        GIN, 'mlp': MLP}` bound once in the file: every class of the table ends in `kind`."""
        model = self.model
        table = dotted_name(call.func.value)
        bindings = model.bindings_of(table, model.enclosing_function(call)) if table else []
        if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].index is not None \
                or type(bindings[0].value) is not cst.Dict or depth > 6:
            return None
        elements = bindings[0].value.elements
        if not elements or len(elements) > 12 or any(
                type(e) is not cst.DictElement or type(e.value) not in (cst.Name, cst.Attribute) for e in elements):
            return None
        found = []
        for e in elements:
            evidence = self._constructed_output(cst.Call(func=e.value, args=call.args), kind, index, depth + 1)
            if not evidence:
                return None
            found.append(evidence)
        return f"class is picked from `{table}`, every one of which: {found[0].split(', whose ', 1)[-1]}"

    def _imported_output(self, call: cst.Call, kind: str, index: Optional[int]) -> Optional[str]:
        """A model class of another module of the run, from that module's summary."""
        project = self.project
        if project is None or not self.module_name or not hasattr(project, "get"):
            return None
        qualified = self.model.qualify_call(call)
        target = resolve_import(self.module_name, qualified, self.is_package) if qualified else None
        target = defining_module(project, *target) if target is not None else None
        return self._summarized_output(call, target, kind, index)

    def _summarized_output(self, call: cst.Call, target: Optional[tuple], kind: str, index) -> Optional[str]:
        """What the summary of module `target[0]` says of its model class `target[1]`."""
        project = self.project
        summary = project.get(target[0]) if target is not None else None
        outputs = getattr(summary, "outputs", None) or {}
        found = _summarized(outputs, target[1], kind, index, self._eval) if target is not None else None
        every = "every element it returns is " if index == ALL else "returns "
        if found:
            return f"forward() {every}{_RETURNS[kind]} ({target[1]}, in {target[0]})"
        built = (getattr(summary, "factory_builds", None) or {}).get(target[1]) if target is not None else None
        if built:  # `get_model(name)` of another module, returning a class of a third one on every path
            found = [self._described_output(("class", module, name), kind, index) for module, name in built]
            if all(found):
                return f"`{target[1]}()` of {target[0]} returns a {built[0][1]}, whose {found[0]}"
        passed = outputs.get((target[1], PASSED, None)) if target is not None and kind != PASSED else None
        if passed:  # `CombinedModel(gnn, head)`: its forward returns what `head` returns
            value = _argument(call, passed[0], passed[1])
            evidence = self._argument_model(call, value, kind, index, 1) if value is not None else None
            if evidence:
                return f"forward() returns the output of its `{passed[0]}` ({target[1]}, in {target[0]}): {evidence}"
        return None

    def _given_at_construction(self, handed: list, kind, index, depth) -> Optional[str]:
        """For `self.head = head` in `__init__` (`handed`: its (method, parameter) pairs), with
        the class being read for one construction: evidence from the argument given there
        ("" when it has none); None when no construction of that class is being read."""
        params = {param for _, param in handed}
        owners = {getattr(self.model.info(f), "cls", None) for f, _ in handed}
        if len(params) != 1 or len(owners) != 1 or None in owners:
            return None
        param, owner = params.pop(), owners.pop()
        if kind == PASSED:
            return "passed" if self._passing == (owner.name, param) else ""
        call = next((c for cls, c in reversed(self._building) if cls is owner), None)
        if call is None:
            return None
        init = owner.methods.get("__init__")
        position = _position_of(init, param) if init is not None else None
        value = _argument(call, param, position)
        if value is None:
            return None
        return self._argument_model(call, value, kind, index, depth) or ""

    def _argument_model(self, call: cst.Call, value: cst.BaseExpression, kind, index, depth) -> Optional[str]:
        """The last activation of the model given as `value` to `call`, read where the call is."""
        value = unwrap_model(self.model, value)
        if type(value) is cst.Call:
            return self._constructed_output(value, kind, index, depth + 1)
        name = dotted_name(value)
        if name is None or depth > 6:
            return None
        return self._model_output(name, self.model.enclosing_function(call), kind, index, depth + 1, value)

    def argument_output(self, value: cst.BaseExpression, function, kind: str) -> Optional[str]:
        """The last activation of a model passed as an argument: a model class itself
        (`NeuralNet(MyModule, ...)`), a model built in place, or a name bound to one."""
        value = unwrap_model(self.model, value)
        if type(value) is cst.Call:
            return self._constructed_output(value, kind, None, 0)
        name = dotted_name(value)
        if name is None:
            return None
        cls = self.model.class_info.get(name)
        if cls is not None and not self.model.bindings_of(name, function):
            return self._class_output(cls, kind, None, 0) if is_module_class(self.model, cls) else None
        if self.model.qualify(value) is not None:  # `from .nets import Net` ... `NeuralNet(Net, ...)`
            return self._imported_output(cst.Call(func=value), kind, None)
        return self._model_output(name, function, kind, None, 0, value)

    def _class_output(self, cls, kind, index, depth) -> Optional[str]:
        layers = sequential_init(self.model, cls)
        if layers is not None:  # `class Head(nn.Sequential)` running nn.Sequential's forward
            found = self._sequential_last(layers, kind) if index is None and not self._eval else None
            return f"{found} ({cls.name}, an nn.Sequential)" if found else None
        forward = forward_of(self.model, cls)
        if forward is None or not forward.returns:
            return None
        returns = forward.returns
        if self._eval:
            returns = [r for r in returns if _guard(self.model, r, forward.node) != "never"]
            if not returns:
                return None
        call = next((c for built, c in reversed(self._building) if built is cls), None)
        if call is not None:  # the flags this construction passes decide which returns run
            returns = [r for r in returns if flag_guard(self.model, r, forward.node, cls, call) != "never"
                       and not after_taken_return(self.model, r, forward.node, cls, call)]
            if not returns:
                return None
        for ret in returns:
            if ret.value is None:
                return None
            if not self.activation_of(ret.value, forward.node, kind, index, depth + 1):
                return None
        every = "every element it returns is " if index == ALL else ""
        return f"forward() {every or 'returns '}{_RETURNS[kind]} ({cls.name})"

    def _top_level_model_classes(self) -> list:
        model = self.model
        classes = [c for c in model.class_info.values() if is_module_class(model, c)]
        used_inside = set()
        for c in classes:
            for method in c.methods.values():
                for site in method.calls:
                    if site.callee in model.class_info:
                        used_inside.add(site.callee)
        return [c for c in classes if c.name not in used_inside]


def _is_number(model: FileModel, node: cst.BaseExpression) -> bool:
    """A numeric literal (`2`, `0.5`) or a count (`len(views)`): a weight, not a tensor."""
    if type(node) in (cst.Integer, cst.Float):
        return True
    return type(node) is cst.Call and dotted_name(node.func) == "len" and model.qualify_call(node) is None


def _position_of(init, param: str) -> Optional[int]:
    """Where a caller passes `param` of `__init__` positionally (None for a keyword-only one)."""
    node = init.node.params
    positional = [p.name.value for p in list(node.posonly_params) + list(node.params)]
    if positional and positional[0] == "self":
        positional = positional[1:]
    return positional.index(param) if param in positional else None


def _argument(call: cst.Call, param: str, position: Optional[int]) -> Optional[cst.BaseExpression]:
    """The argument `call` gives for `param`: by keyword, or at `position` before any star."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == param:
            return arg.value
    positional = []
    for arg in call.args:
        if arg.star:
            break
        if arg.keyword is None:
            positional.append(arg.value)
    return positional[position] if position is not None and position < len(positional) else None


def passed_outputs(model: FileModel) -> dict:
    """(class, PASSED, None) -> (parameter, position) for each model class of the file whose
    forward returns, on every path, the output of a module its `__init__` holds from that
    parameter (`self.head = head` ... `return self.head(h)`): a file of the project building
    `Combined(Backbone(), SoftmaxHead())` reads what the given head returns."""
    found = {}
    activations = activations_of(model)
    for cls in model.class_info.values():
        init = cls.methods.get("__init__")
        if init is None or forward_of(model, cls) is None or not is_module_class(model, cls):
            continue
        params = set(init.params[1:])
        held = {b.value.value for name, bindings in model.bindings.items() if name.startswith("self.")
                for b in bindings if b.function is init.node and type(b.value) is cst.Name and b.value.value in params}
        for param in sorted(held)[:8]:
            activations._passing = (cls.name, param)
            try:
                if activations._class_output(cls, PASSED, None, 0):
                    found[(cls.name, PASSED, None)] = (param, _position_of(init, param))
                    break
            finally:
                activations._passing = None
    return found


def _training_test(test: cst.BaseExpression) -> Optional[bool]:
    """True for `self.training`, False for `not self.training`, else None."""
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = _training_test(test.expression)
        return None if inner is None else not inner
    return True if dotted_name(test) == "self.training" else None


def _guard(model: FileModel, node: cst.CSTNode, function) -> Optional[str]:
    """In eval mode, does `node` run: "never" (under `if self.training:`), "always" (under
    `if not self.training:` or the else of `if self.training:`), or None (no such test)."""
    current, child = model.parents.get(node), node
    while current is not None and current is not function:
        if type(current) is cst.If:
            mode = _training_test(current.test)
            if mode is not None:
                in_body = child is current.body
                if in_body or child is current.orelse:
                    runs_in_eval = (not mode) if in_body else mode
                    return "always" if runs_in_eval else "never"
        current, child = model.parents.get(current), current
    return None


def _comprehension_source(model: FileModel, node: cst.CSTNode, name: str) -> Optional[cst.BaseExpression]:
    """What the comprehension around `node` walks when its one target is `name` (`p` in
    `[ce(p, y) for p in probs]`), else None."""
    current = model.parents.get(node)
    while current is not None and not isinstance(current, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
        if isinstance(current, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            loop = current.for_in
            if loop.inner_for_in is None and type(loop.target) is cst.Name and loop.target.value == name \
                    and model.is_within(node, current.elt):
                return loop.iter
            return None
        current = model.parents.get(current)
    return None


_SEQUENTIAL_EDITS = {"add_module", "append", "extend", "insert", "register_module"}


def sequential_init(model: FileModel, cls) -> Optional[cst.Call]:
    """For a class deriving from `nn.Sequential` that runs its base's forward (no forward of
    its own, or one returning `super().forward(x)` on every path): the one
    `super().__init__(...)` call of its `__init__` that lists the layers, made on every path.
    None when the class changes its layers otherwise (`self.add_module(...)`)."""
    if not any(matches(base, "torch.nn.Sequential") for base in cls.bases):
        return None
    init = cls.methods.get("__init__")
    if init is None:
        return None
    forward = cls.methods.get("forward")
    if forward is not None and (not forward.returns or not all(
            r.value is not None and _super_call(r.value, "forward") for r in forward.returns)):
        return None
    for method in cls.methods.values():
        if any(dotted_name(site.receiver) == "self" and site.method in _SEQUENTIAL_EDITS for site in method.calls):
            return None
    calls = [site.node for site in init.calls if _super_call(site.node, "__init__")]
    if len(calls) != 1 or not calls[0].args or _branches_away(model, calls[0], None, init.node):
        return None
    return calls[0]


def _super_call(node: cst.BaseExpression, method: str) -> bool:
    """`super().method(...)` or `super(Cls, self).method(...)`."""
    if type(node) is not cst.Call or type(node.func) is not cst.Attribute or node.func.attr.value != method:
        return False
    inner = node.func.value
    return type(inner) is cst.Call and dotted_name(inner.func) == "super"


def _branches_away(model: FileModel, node: cst.CSTNode, use: Optional[cst.CSTNode], function) -> bool:
    """`node` runs only on some paths of `function` that reach `use` (the end of the
    function when None): under an if, a loop or a try that does not also hold `use`."""
    for ancestor in model.ancestors(node):
        if ancestor is function:
            return False
        if isinstance(ancestor, (cst.If, cst.For, cst.While, cst.Try, cst.IfExp, cst.BooleanOperation)) and \
                (use is None or not model.is_within(use, ancestor)):
            return True
    return False


def forward_of(model: FileModel, cls):
    """The class's `forward`, or the one it inherits from a base class of the same file
    (`class Net(Base)` with the layers in `__init__` and `forward` in `Base`)."""
    for _ in range(4):
        forward = cls.methods.get("forward")
        if forward is not None:
            return forward
        bases = [model.class_info.get(base) for base in cls.bases]
        bases = [b for b in bases if b is not None and b is not cls]
        if len(bases) != 1:
            return None
        cls = bases[0]
    return None


def _summarized(outputs: dict, name: str, kind: str, index, in_eval: bool = False) -> bool:
    """What a module's summary says of element `index` of a class's output: one position of a
    list or tuple holds `kind` when every element does; in eval mode, what it returns then."""
    if outputs.get((name, kind, index)) or (type(index) is int and outputs.get((name, kind, ALL))):
        return True
    return bool(in_eval and index is None and outputs.get((name, kind, None, "eval")))


def defining_module(project, module: str, name: str) -> tuple[str, str]:
    """(module, name) where a class named through a package is defined: `from pkg import
    Evaluator`, with `pkg/__init__.py` holding `from .evaluator import Evaluator` or `from
    .evaluator import *`, leads to `pkg.evaluator`; the name itself when nothing re-exports it."""
    return defined_at(project.get, module, name)


def module_attribute(model: FileModel, func: cst.Attribute, function) -> bool:
    """`self.softmax(x)` with `self.softmax = nn.LogSoftmax(dim=1)`: a layer held under the
    method's name, called; not the tensor method `x.softmax()`."""
    if dotted_name(func.value) == "self":
        return True
    name = dotted_name(func)
    return bool(name and model.bindings_of(name, function))


def _position(node: cst.Subscript) -> Optional[int]:
    """0 for `out[0]`: one non-negative integer index, else None."""
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        value = node.slice[0].slice.value
        if type(value) is cst.Integer and value.value.isdigit():
            return int(value.value)
    return None


def _string(node: cst.SimpleString) -> Optional[str]:
    try:
        value = node.evaluated_value
    except (SyntaxError, ValueError):
        return None
    return value if isinstance(value, str) else None


def reaching_bindings(model: FileModel, bindings: list, use: cst.CSTNode, function) -> list:
    """The bindings of one name that can reach `use`, as far as the order of statements says.

    Bindings of other functions (`self.x` set in `__init__`) all count. In `function` only
    assignments above the use count (in `loss = crit(pred, y); pred = torch.sigmoid(pred)`
    the loss saw the logits), not the one whose own value holds the use (`x = x.view(-1)`),
    and one that is overwritten before the use on every path is dropped: in
    `y = self(x); y = torch.softmax(y, 1); crit(y, t)` only the softmax reaches the loss.
    A later assignment overwrites on every path when the block holding it also holds the use.
    """
    order = source_order(model)
    used_at = order.get(use)
    if used_at is None:
        return bindings
    local, kept = [], []
    for b in bindings:
        if b.function is not function:
            kept.append(b)
            continue
        at = order.get(b.statement)
        if at is None:
            kept.append(b)
        elif at < used_at and not model.is_within(use, b.statement):
            local.append((at, b))
    for at, b in local:
        if not any(later > at and (_overwrites(model, other, use) or _overwrites(model, other, b.statement))
                   for later, other in local):
            kept.append(b)
    return kept


def _overwrites(model: FileModel, binding, use: cst.CSTNode) -> bool:
    """A plain assignment whose statement line sits in a block that also holds `use` (or
    the earlier binding: `outs = [...]; outs = torch.cat(outs)` under one `if`)."""
    if not isinstance(binding.statement, (cst.Assign, cst.AnnAssign)):
        return False
    line = model.statement_of(binding.statement)
    block = model.parent(line) if line is not None else None
    return block is not None and model.is_within(use, block)


def _last_layer(call: cst.Call) -> Optional[cst.BaseExpression]:
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if not positional:
        return None
    if len(positional) == 1 and isinstance(positional[0], cst.Call) and \
            (dotted_name(positional[0].func) or "").endswith("OrderedDict") and positional[0].args:
        items = positional[0].args[0].value
        if isinstance(items, (cst.List, cst.Tuple)) and items.elements:
            pair = items.elements[-1].value
            if isinstance(pair, (cst.Tuple, cst.List)) and len(pair.elements) == 2:
                return pair.elements[1].value
        return None
    return positional[-1]


def activations_of(model: FileModel, project=None, module_name: Optional[str] = None,
                   is_package: bool = False) -> Activations:
    found = model.cache.get("activations")
    if found is None:
        found = model.cache["activations"] = Activations(model, project, module_name, is_package)
    elif project is not None and found.project is None:
        found.project, found.module_name, found.is_package = project, module_name, is_package
    return found


def class_outputs(model: FileModel, kinds: tuple = (SOFTMAX, SIGMOID, LOGITS)) -> dict:
    """(class, kind, tuple index) -> True for each model class of the file whose forward
    ends in a softmax, a sigmoid or an nn.Linear (logits), and (function, kind, None) for each
    function that builds such a model: what other modules need to know (project summaries)."""
    found = {}
    activations = activations_of(model)
    for cls in model.class_info.values():
        if forward_of(model, cls) is None and sequential_init(model, cls) is None or not is_module_class(model, cls):
            continue
        for kind in kinds:
            if activations._class_output(cls, kind, None, 0):
                found[(cls.name, kind, None)] = True
            for index in range(_tuple_width(model, cls)):
                if activations._class_output(cls, kind, index, 0):
                    found[(cls.name, kind, index)] = True
            if activations._class_output(cls, kind, ALL, 0):  # a list or tuple of such outputs
                found[(cls.name, kind, ALL)] = True
            if (cls.name, kind, None) not in found:  # `if not self.training: x = F.softmax(x, 1)`
                activations._eval = True
                try:
                    if activations._class_output(cls, kind, None, 0):
                        found[(cls.name, kind, None, "eval")] = True
                finally:
                    activations._eval = False
            for key in returned_keys(model, cls):
                if activations._class_output(cls, kind, key, 0):
                    found[(cls.name, kind, key)] = True
    for info in model.function_info.values():  # `def build_model(): return nn.Sequential(..., nn.Softmax())`
        if info.cls_ref is None and info.parent is None and info.returns:
            for kind in kinds:
                if activations._factory_output(info.name, kind, None, 0):
                    found[(info.name, kind, None)] = True
                elif kind not in (LOGITS, PASSED) and activations._returned(info, kind, None, 0):
                    # `def predict(net, x): return F.softmax(net(x), 1)`: its value, not a model
                    found[(helper_key(info.name), kind, None)] = True
    return found


def helper_key(name: str) -> str:
    """The summary key of a function returning the activation's output (not a model)."""
    return f"{name}()"


def output_keys(model: FileModel, outputs: dict) -> dict:
    """{key: {class: "softmax"/"sigmoid"/None}} for the string keys of the dicts that the
    file's model classes return, None where the element is neither activation's output."""
    found: dict = {}
    for cls in model.class_info.values():
        if forward_of(model, cls) is None or not is_module_class(model, cls):
            continue
        for key in returned_keys(model, cls):
            kinds = [kind for kind in (SOFTMAX, SIGMOID) if outputs.get((cls.name, kind, key))]
            found.setdefault(key, {})[cls.name] = kinds[0] if len(kinds) == 1 else None
    return found


def returned_keys(model: FileModel, cls) -> list:
    """The string keys of the dicts a forward returns: `return {'exist': x}`, or a name bound
    to a dict literal or given `output['exist'] = x` in the forward (at most 8)."""
    forward = forward_of(model, cls)
    keys: list = []
    for ret in forward.returns if forward is not None else ():
        value = ret.value
        name = dotted_name(value) if value is not None else None
        values = [value] if isinstance(value, cst.Dict) else \
            [b.value for b in model.bindings_of(name, forward.node) if b.kind == "assign"] if name else []
        for value in values:
            if isinstance(value, cst.Dict):
                keys.extend(_string(e.key) for e in value.elements
                            if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString))
        if name and type(ret.value) is not cst.Dict:
            keys.extend(key for key, function in _keyed_bindings(model).get(name, ()) if function is forward.node)
    unique = list(dict.fromkeys(k for k in keys if k))
    return unique[:8]


def _keyed_bindings(model: FileModel) -> dict:
    """{name: [(key, function)]} for the file's `name['key'] = value` stores (read once)."""
    found = model.cache.get("keyed_bindings")
    if found is None:
        found = model.cache["keyed_bindings"] = {}
        for target, bindings in model.bindings.items():
            if target.endswith("']") and "['" in target:
                base, _, rest = target.partition("['")
                for b in bindings:
                    found.setdefault(base, []).append((rest[:-2], b.function))
    return found


def _tuple_width(model: FileModel, cls) -> int:
    """How many values the forward returns as a literal tuple (0 when it returns one)."""
    forward = forward_of(model, cls)
    if forward is None:
        return 0
    widths = {len(r.value.elements) for r in forward.returns
              if isinstance(r.value, (cst.Tuple, cst.List))}
    return min(widths.pop(), 4) if len(widths) == 1 else 0
