"""The per-file model that rules query, built in one traversal of the libcst tree.

The traversal records what every later query needs, so nothing walks the tree
again: calls (with their enclosing function and statement, in evaluation order),
bindings (assignments, tuple unpacking with positions, loop and `with` targets,
parameters), functions with their decorators, parameters and returns, classes with
their bases, and parent links. Derived knowledge (roles, splits, the mode/grad
flow) is computed lazily from these tables by the other modules of this package.
"""

from __future__ import annotations

import functools
import sys
import weakref
from operator import attrgetter, itemgetter
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Iterator, Optional, Union

import libcst as cst

from auditor.analysis.fragments import presume_fragment_imports
from auditor.analysis.names import ImportTable, dotted_name, matches
from auditor.speed import model_walker, node_classes, render_expression, token_classes

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)

Scope = Optional[Union[cst.FunctionDef, cst.ClassDef]]

# `slots=True` exists from Python 3.10; on 3.9 the records keep a `__dict__` (same
# behaviour, a little more memory).
_SLOTS = {"slots": True} if sys.version_info >= (3, 10) else {}


@dataclass(eq=False, **_SLOTS)
class CallSite:
    node: cst.Call
    qualname: Optional[str]  # resolved through imports; None for local/unknown callees
    callee: Optional[str]  # the callee as written (`self.criterion`, `F.softmax`)
    function: Optional[cst.FunctionDef]  # innermost enclosing function
    statement: Optional[cst.CSTNode] = None  # small statement or compound header owning the call
    # `step` for `optimizer.step()`, None for a plain name call (rules ask this of every
    # call, many times: it is read once here).
    method: Optional[str] = field(init=False)

    def __post_init__(self) -> None:
        func = self.node.func
        self.method = func.attr.value if type(func) is cst.Attribute else None

    @property
    def receiver(self) -> Optional[cst.BaseExpression]:
        func = self.node.func
        return func.value if type(func) is cst.Attribute else None


@dataclass(eq=False, **_SLOTS)
class Binding:
    target: str  # dotted target as written: `x`, `self.loader`
    value: cst.BaseExpression
    function: Optional[cst.FunctionDef]
    statement: cst.CSTNode
    # `a, b = f()` binds `a` to f() at index 0 of 2; None for plain assignments.
    index: Optional[int] = None
    arity: Optional[int] = None
    kind: str = "assign"  # assign | for | with | param | aug


def assigned_calls(bindings) -> Optional[list]:
    """The calls that `bindings` assign to the whole name (`trainer = Trainer(...)`), in order;
    None when some binding is anything else (a parameter, a loop target, `a, b = f()`...)."""
    calls = []
    for binding in bindings:
        if binding.kind != "assign" or binding.index is not None or type(binding.value) is not cst.Call:
            return None
        calls.append(binding.value)
    return calls


@dataclass(eq=False)
class FunctionInfo:
    node: cst.FunctionDef
    name: str
    qualname: str  # `Class.method` or `outer.inner` or `name`
    # The enclosing class, held weakly: the class holds its methods, and a cycle between
    # them would keep the file's whole tree alive until the garbage collector runs.
    cls_ref: Optional["weakref.ReferenceType[ClassInfo]"]
    params: list[str]
    annotations: dict[str, Optional[str]]  # param -> annotation as written (dotted)
    defaults: dict[str, cst.BaseExpression]
    decorators: list[cst.BaseExpression]
    parent: Optional[cst.FunctionDef]
    calls: list[CallSite] = field(default_factory=list)
    returns: list[cst.Return] = field(default_factory=list)

    @property
    def cls(self) -> Optional["ClassInfo"]:
        return self.cls_ref() if self.cls_ref is not None else None

    @property
    def positional(self) -> list[str]:
        """Parameters a caller fills positionally (without `self`/`cls` of methods)."""
        if self.cls is not None and self.params and self.params[0] in ("self", "cls"):
            return self.params[1:]
        return self.params


def bind_arguments(info: FunctionInfo, call: cst.Call, bound: bool) -> dict:
    """{parameter: argument expression} of a call of the function `info` (`bound`: a method
    called through its object, so the first parameter is not among the arguments)."""
    params = info.positional if bound or info.cls is None else info.params
    plain = [a for a in call.args if a.keyword is None and not a.star]
    args = {p: a.value for p, a in zip(params, plain)}
    for a in call.args:
        if a.keyword is not None:
            args[a.keyword.value] = a.value
    return args


@dataclass(eq=False)
class ClassInfo:
    node: cst.ClassDef
    name: str
    bases: list[str]  # qualified where imported, else as written
    methods: dict[str, FunctionInfo] = field(default_factory=dict)


_BY_FINAL_NAME = "model.calls_by_final_name"  # FileModel.cache key: final name -> [(position, site)]


@dataclass(eq=False)
class FileModel:
    module: cst.Module
    imports: ImportTable = field(default_factory=ImportTable)
    calls: list[CallSite] = field(default_factory=list)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    functions: list[cst.FunctionDef] = field(default_factory=list)
    classes: list[cst.ClassDef] = field(default_factory=list)
    parents: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)
    function_info: dict[cst.FunctionDef, FunctionInfo] = field(default_factory=dict)
    class_info: dict[str, ClassInfo] = field(default_factory=dict)  # by class name (the first of a name)
    # Every class, a redefined name's included: their methods refer to them weakly.
    class_infos: list[ClassInfo] = field(default_factory=list)
    statement_calls: dict[cst.CSTNode, list[CallSite]] = field(default_factory=dict)
    call_site: dict[cst.Call, CallSite] = field(default_factory=dict)
    module_calls: list[CallSite] = field(default_factory=list)
    # `totals[key] += value` statements (AugAssign to a subscript of a named object), with
    # their enclosing function: no binding names them, and TRN405 reads running totals kept
    # in dicts from here rather than walking the tree again.
    subscript_augs: list[tuple[cst.AugAssign, Optional[cst.FunctionDef]]] = field(default_factory=list)
    # Derived analyses, computed on first use and cached here (see the sibling modules).
    cache: dict = field(default_factory=dict)
    # Source text of nodes already rendered: the flow analysis asks for the same
    # conditions once per path, and libcst renders a node by walking all of it.
    rendered: dict = field(default_factory=dict)

    def release(self) -> None:
        """Drop the derived analyses: each points back at this model, a reference cycle
        that would keep the whole tree alive until the garbage collector runs."""
        self.cache.clear()
        self.rendered.clear()

    def calls_matching(self, *candidates: str) -> list[CallSite]:
        """The calls whose qualified name `matches` one of `candidates`, in call order.

        A qualified name matches a candidate only if both end in the same final name,
        so only the calls indexed under the candidates' final names are asked (rules
        looked for `torch.load` among all of a file's calls, one `matches` each).
        """
        index = self.cache.get(_BY_FINAL_NAME)
        if index is None:
            index = self.cache[_BY_FINAL_NAME] = {}
            for position, site in enumerate(self.calls):
                if site.qualname is not None:
                    index.setdefault(site.qualname.rpartition(".")[2], []).append((position, site))
        finals = {candidate.rpartition(".")[2] for candidate in candidates}
        found = [entry for final in finals for entry in index.get(final, ())]
        if len(finals) > 1:
            found.sort(key=itemgetter(0))
        return [site for _, site in found if matches(site.qualname, *candidates)]

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parents = self.parents
        current = parents.get(node)
        while current is not None:
            yield current
            current = parents.get(current)

    def statement_of(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The statement (a line of its own, or a compound statement) holding `node`."""
        current: Optional[cst.CSTNode] = node
        while current is not None and not isinstance(current, _STATEMENTS):
            current = self.parents.get(current)
        return current

    def enclosing_function(self, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                return ancestor
        return None

    def is_within(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        """True when `container` is a proper ancestor of `node`."""
        parents = self.parents
        current = parents.get(node)
        while current is not None:
            if current is container:
                return True
            current = parents.get(current)
        return False

    def values_of(self, target: str, function: Optional[cst.FunctionDef] = None,
                  kinds: tuple[str, ...] = ("assign", "with")) -> list[cst.BaseExpression]:
        """Values bound whole to `target` (no unpacking) by a binding of one of `kinds`,
        preferring the same function, then module level."""
        return [b.value for b in self.bindings_of(target, function) if b.kind in kinds and b.index is None]

    def bindings_of(self, target: str, function: Optional[cst.FunctionDef] = None) -> list[Binding]:
        """Bindings of `target` visible from `function`: its own, else enclosing ones, else module level.

        `self.x` is looked up across the whole class (any method may have set it).
        """
        found = self.bindings.get(target, [])
        if not found:
            return []
        if target.startswith("self."):
            cls = self.class_of(function)
            return [b for b in found if cls is None or self.class_of(b.function) is cls]
        scope = function
        while True:
            local = [b for b in found if b.function is scope]
            if local or scope is None:
                return local
            info = self.function_info.get(scope)
            scope = info.parent if info else None

    def class_of(self, function: Optional[cst.FunctionDef]) -> Optional[ClassInfo]:
        info = self.function_info.get(function) if function is not None else None
        while info is not None and info.cls is None and info.parent is not None:
            info = self.function_info.get(info.parent)
        return info.cls if info else None

    def qualify_call(self, call: cst.Call) -> Optional[str]:
        return self.imports.qualify(call.func)

    def qualify(self, node: cst.BaseExpression) -> Optional[str]:
        return self.imports.qualify(node)

    def info(self, function: Optional[cst.FunctionDef]) -> Optional[FunctionInfo]:
        return self.function_info.get(function) if function is not None else None

    def functions_named(self, name: str) -> list[FunctionInfo]:
        """Module-level functions (not methods) called `name`."""
        return [i for i in self.function_info.values() if i.name == name and i.cls is None and i.parent is None]

    def code(self, node: cst.CSTNode) -> str:
        """`node`'s source text (libcst's `code_for_node`), computed once per node."""
        text = self.rendered.get(node)
        if text is None:
            text = render_expression(node)
            if text is None:
                text = self.module.code_for_node(node)
            self.rendered[node] = text
        return text

    def calls_in(self, function: Optional[cst.FunctionDef]) -> list[CallSite]:
        if function is None:
            return self.module_calls
        info = self.function_info.get(function)
        return info.calls if info else []


# A statement "owns" the calls in its expressions; compound statements own only their
# header (the body's statements own theirs), which the interpreter needs to replay
# effects in order.
_HEADER_OWNERS = (cst.For, cst.While, cst.If, cst.With, cst.FunctionDef, cst.ClassDef, cst.Try,
                  cst.ExceptHandler)
_BODIES = (cst.IndentedBlock, cst.SimpleStatementSuite, cst.Else, cst.Finally)


class KindTable(dict):
    """`table[type(node)]`: whether nodes of that class are instances of `bases`, asked once
    per class. The same answer as `isinstance(node, bases)`, which for libcst's classes (all
    ABCs) runs Python code at every negative call: the cost of a walk over many nodes."""

    def __init__(self, *bases: type) -> None:
        super().__init__()
        self.bases = bases

    def __missing__(self, kind: type) -> bool:
        found = self[kind] = issubclass(kind, self.bases)
        return found


# --- the walk's tables ---------------------------------------------------------------

_NODE_CLASSES = node_classes()


# Tokens and whitespace: never recorded, never queried, and most of a tree's nodes.
_SKIP: set = token_classes(_NODE_CLASSES)
_KEEP: set = set(_NODE_CLASSES) - _SKIP
# Fields that only ever hold whitespace or brackets.
_SKIP_FIELD_PREFIXES = ("whitespace", "lpar", "rpar", "leading_lines", "lines_after_decorators")
# True: the node owns the calls of its expressions; False: a body, whose statements own theirs.
# (Read from each class's MRO: issubclass against libcst's ABCs is slow at start-up.)
_OWNER_KIND: dict = {}
for _cls in _NODE_CLASSES:
    _mro = set(_cls.__mro__)
    if cst.BaseSmallStatement in _mro or not _mro.isdisjoint(_HEADER_OWNERS):
        _OWNER_KIND[_cls] = True
    elif not _mro.isdisjoint(_BODIES):
        _OWNER_KIND[_cls] = False

def _fields_of(cls: type) -> Optional[tuple]:
    """The child-holding fields of `cls`, read from libcst's own `_visit_and_replace_children`.

    That method visits the fields in source order (`visit_required(self, "name", ...)`),
    and a function's string constants are stored in the order they first occur: so its
    constants that name a field of `cls` are the fields in source order. None when the
    method or the fields cannot be read (the walk then asks `node.children`).
    """
    try:
        constants = cls._visit_and_replace_children.__code__.co_consts
        names = {f.name for f in dataclass_fields(cls)}
    except (AttributeError, TypeError):
        fields = None
    else:
        fields = tuple(c for c in constants if type(c) is str and c in names
                       and not c.startswith(_SKIP_FIELD_PREFIXES))
    return fields


def syntactic_children(node: cst.CSTNode) -> list:
    """The syntactic children of `node` in source order, tokens and whitespace left out.

    Much cheaper than libcst's `node.children`, which rebuilds (and re-validates) every
    child through the generic visitor.
    """
    cls = type(node)
    try:
        read = _READERS[cls]
    except KeyError:
        read = _reader_of(cls)
    if read is None:
        return [c for c in node.children if type(c) not in _SKIP]
    out = []
    skip = _SKIP
    for value in read(node):
        kind = type(value)
        if kind in _KEEP:
            out.append(value)
        elif kind is tuple or kind is list:
            out += [v for v in value if type(v) not in skip]
        elif kind not in _IGNORED and _classify(value):
            out.append(value)
    return out


# Kinds of field values that are never children: tokens, None, and (added as met)
# libcst's sentinels; an isinstance against libcst's ABCs is slow, asked once per kind.
_IGNORED: set = _SKIP | {type(None)}


def _classify(value) -> bool:
    """Whether a field value of a kind met for the first time is a child; the kind is
    recorded either way, so each is asked once."""
    kind = type(value)
    if isinstance(value, cst.CSTNode):
        _KEEP.add(kind)  # a node class defined after this module was imported
        return True
    _IGNORED.add(kind)  # a value such as MaybeSentinel.DEFAULT
    return False


# node class -> its child-holding fields for the C walk (auditor/speed/speedups.py), filled as
# classes are met; None: the walk asks `syntactic_children`.
_WALK_FIELDS: dict = {}


# node class -> a function giving the values of its child fields, in source order, in
# one call (operator.attrgetter reads them all in C); None: ask `node.children`.
_READERS: dict = {}


def _reader_of(cls: type):
    fields = _fields_of(cls)
    if fields is None:
        read = None
    elif len(fields) == 1:
        one = attrgetter(fields[0])
        read = lambda node: (one(node),)  # noqa: E731
    elif fields:
        read = attrgetter(*fields)
    else:
        read = lambda node: ()  # noqa: E731
    _READERS[cls] = read
    return read


# Nodes with no syntactic children, no hook and no owner kind: the walk records their
# parent and does not descend (a third of the nodes it meets are names).
_LEAVES = frozenset({cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Ellipsis})


class _Builder:
    """One direct walk over the tree's syntactic nodes (see `syntactic_children`).

    libcst's generic visitor costs several Python calls per node (attribute hooks,
    sequence helpers) and every `isinstance` against a libcst class goes through
    ABCMeta; this walk dispatches on `type(node)` in dictionaries and never enters
    whitespace, comma, bracket or operator tokens, which are most of a tree's nodes
    and carry nothing the model records.
    """

    def __init__(self, model: FileModel) -> None:
        self.model = model
        self.functions: list[cst.FunctionDef] = []
        self.classes: list[Optional[ClassInfo]] = []
        self.owners: list[Optional[cst.CSTNode]] = []

    def build(self, module: cst.Module) -> None:
        """Pre-order (visit hooks, parent links) and post-order (leave hooks), like libcst's visitor."""
        parents = self.model.parents
        owners = self.owners
        actions = _actions()
        walk = model_walker()
        if walk is not None:
            flat = iter(walk(module, _WALK_FIELDS, _fields_of, _KEEP, _SKIP, _IGNORED, _classify, _LEAVES,
                             actions, parents, syntactic_children))
            events = zip(flat, flat)
        else:
            events = _walk(module, actions, parents)
        for node, entering in events:
            kind, visit_hook, leave_hook = actions[type(node)]
            if entering:
                if kind is not None:
                    owners.append(node if kind else None)
                if visit_hook is not None:
                    visit_hook(self, node)
            else:
                if leave_hook is not None:
                    leave_hook(self, node)
                if kind is not None:
                    owners.pop()

    def visit_Import(self, node: cst.Import) -> None:
        self.model.imports.add_import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.model.imports.add_import_from(node)

    def _current_function(self) -> Optional[cst.FunctionDef]:
        return self.functions[-1] if self.functions else None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.model.functions.append(node)
        cls = self.classes[-1] if self.classes and self._directly_in_class(node) else None
        parent = self._current_function()
        params, annotations, defaults = [], {}, {}
        p = node.params
        for param in list(p.posonly_params) + list(p.params) + list(p.kwonly_params):
            name = param.name.value
            params.append(name)
            annotations[name] = dotted_name(param.annotation.annotation) if param.annotation else None
            if param.default is not None:
                defaults[name] = param.default
            self._record(name, param.default or param.name, node, param, kind="param")
        if parent is not None:
            qualname = f"{self.model.function_info[parent].qualname}.{node.name.value}"
        elif cls is not None:
            qualname = f"{cls.name}.{node.name.value}"
        else:
            qualname = node.name.value
        info = FunctionInfo(node=node, name=node.name.value, qualname=qualname,
                            cls_ref=weakref.ref(cls) if cls is not None else None, params=params,
                            annotations=annotations, defaults=defaults,
                            decorators=[d.decorator for d in node.decorators], parent=parent)
        self.model.function_info[node] = info
        if cls is not None:
            cls.methods[info.name] = info
        self.functions.append(node)
        self.classes.append(None)  # classes nested in a function body are not this class

    def _directly_in_class(self, node: cst.FunctionDef) -> bool:
        # FunctionDef -> IndentedBlock -> ClassDef
        parent = self.model.parents.get(node)
        return isinstance(self.model.parents.get(parent), cst.ClassDef)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()
        self.classes.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.model.classes.append(node)
        bases = [self.model.imports.qualify(b.value) or dotted_name(b.value) or "" for b in node.bases]
        info = ClassInfo(node=node, name=node.name.value, bases=bases)
        self.model.class_info.setdefault(info.name, info)
        self.model.class_infos.append(info)
        self.classes.append(info)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()

    def leave_Call(self, original_node: cst.Call) -> None:
        # Appended on leave: arguments before the call, i.e. evaluation order.
        owner = self.owners[-1] if self.owners else None
        callee = dotted_name(original_node.func)
        function = self._current_function()
        qualname = self.model.imports.qualify_dotted(callee)
        if qualname is not None and function is not None and self._parameter_shadows(callee, function):
            qualname = None  # `def acc(model, loader): model(x)` beside `from train import model`
        site = CallSite(
            node=original_node,
            qualname=qualname,
            callee=callee,
            function=function,
            statement=owner,
        )
        self.model.calls.append(site)
        self.model.call_site[original_node] = site
        if owner is not None:
            self.model.statement_calls.setdefault(owner, []).append(site)
        if site.function is not None:
            self.model.function_info[site.function].calls.append(site)
        else:
            self.model.module_calls.append(site)

    def _parameter_shadows(self, callee: str, function: cst.FunctionDef) -> bool:
        """The callee's head is a parameter of the function or of one around it: a local
        name, not the module-level import of the same name (unless the parameter defaults to
        that import, `def f(x, F=F)`)."""
        head = callee.split(".", 1)[0]
        while function is not None:
            info = self.model.function_info[function]
            if head in info.params:
                default = info.defaults.get(head)
                return not (isinstance(default, cst.Name) and default.value == head)
            function = info.parent
        return False

    def visit_Return(self, node: cst.Return) -> None:
        function = self._current_function()
        if function is not None:
            self.model.function_info[function].returns.append(node)

    def _record(self, name: str, value: cst.BaseExpression, function, statement, **extra) -> None:
        self.model.bindings.setdefault(name, []).append(
            Binding(target=name, value=value, function=function, statement=statement, **extra))

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression, statement: cst.CSTNode,
              kind: str = "assign") -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if isinstance(value, (cst.Tuple, cst.List)) and len(elements) == len(value.elements) \
                    and not any(isinstance(e, cst.StarredElement) for e in value.elements):
                for t, v in zip(elements, value.elements):
                    self._bind(t.value, v.value, statement, kind)
                return
            for i, element in enumerate(elements):
                if isinstance(element, cst.StarredElement):
                    continue
                inner = element.value
                if isinstance(inner, (cst.Tuple, cst.List)):
                    # `for i, (x, y) in enumerate(loader)`: nested targets read the same source.
                    for sub in inner.elements:
                        name = dotted_name(sub.value)
                        if name:
                            self._record(name, value, self._current_function(), statement,
                                         index=i, arity=len(elements), kind=kind)
                    continue
                name = dotted_name(inner)
                if name:
                    self._record(name, value, self._current_function(), statement,
                                 index=i, arity=len(elements), kind=kind)
            return
        name = dotted_name(target)
        if name is not None:
            self._record(name, value, self._current_function(), statement, kind=kind)
        elif isinstance(target, cst.Subscript):
            key = subscript_key(target)
            base = dotted_name(target.value)
            if key is not None and base is not None:
                self._record(f"{base}[{key!r}]", value, self._current_function(), statement, kind=kind)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value, node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        name = dotted_name(node.target)
        if name is not None:
            self._record(name, node.value, self._current_function(), node, kind="aug")
        elif type(node.target) is cst.Subscript and dotted_name(node.target.value) is not None:
            self.model.subscript_augs.append((node, self._current_function()))

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, node.iter, node, kind="for")

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, node.item, node, kind="with")

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value, node)


@functools.cache
def _actions() -> dict:
    """What happens on entering and leaving a node, for the kinds where anything does:
    type -> (owner kind or None, visit hook or None, leave hook or None), the hooks as
    functions of (builder, node). Made once: the walk looks each node's kind up here."""
    visit = {
        cst.Import: _Builder.visit_Import, cst.ImportFrom: _Builder.visit_ImportFrom,
        cst.FunctionDef: _Builder.visit_FunctionDef, cst.ClassDef: _Builder.visit_ClassDef,
        cst.Return: _Builder.visit_Return, cst.Assign: _Builder.visit_Assign,
        cst.AnnAssign: _Builder.visit_AnnAssign, cst.AugAssign: _Builder.visit_AugAssign,
        cst.For: _Builder.visit_For, cst.WithItem: _Builder.visit_WithItem,
        cst.NamedExpr: _Builder.visit_NamedExpr,
    }
    leave = {cst.FunctionDef: _Builder.leave_FunctionDef, cst.ClassDef: _Builder.leave_ClassDef,
             cst.Call: _Builder.leave_Call}
    return {cls: (_OWNER_KIND.get(cls), visit.get(cls), leave.get(cls)) for cls in {*_OWNER_KIND, *visit, *leave}}


def _walk(module: cst.Module, watched: dict, parents: dict) -> Iterator[tuple]:
    """The walk in Python, when the C one (auditor/speed/_speedups.c) is not compiled.

    Pre-order over the syntactic nodes: sets each node's parent link and yields
    (node, True) on entering and (node, False) on leaving each node whose type is in
    `watched` (the root: its leaving only). The hooks run as the pairs are taken, so
    they see the parent links of the nodes met so far.
    """
    children_of = syntactic_children
    leaves = _LEAVES
    # An explicit stack: (node, iterator over its children, whether it is watched) frames.
    stack = [(module, iter(children_of(module)), type(module) in watched)]
    while stack:
        node, pending, is_watched = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            if is_watched:
                yield node, False
            continue
        parents[child] = node
        cls = type(child)
        if cls in leaves:
            continue
        is_watched = cls in watched
        if is_watched:
            yield child, True
        stack.append((child, iter(children_of(child)), is_watched))


def subscript_key(node: cst.Subscript) -> Optional[str]:
    """`"val"` for `loaders["val"]`; None for anything but one string key."""
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        value = node.slice[0].slice.value
        if isinstance(value, cst.SimpleString):
            try:
                evaluated = value.evaluated_value
            except (SyntaxError, ValueError):  # an escape CPython refuses that libcst parses
                return None
            return evaluated if isinstance(evaluated, str) else None
    return None


# One model per parsed module. The engine keeps each file's FileContext (and with it
# the model) from phase 1 to phase 2, so this cache only serves callers that ask again
# for the same module soon after; libcst nodes take no weak references, so it holds
# the module itself (keeping its id valid). The bound is small on purpose: every tree
# held here stays alive, the garbage collector scans them, and they are freed only at
# exit (benchmarks/growth.py, 2,000 files, one process: a bound of 4,096 cost 19.0 CPU
# ms per file and 518 MB at peak, a bound of 32 16.3 ms and 163 MB; on pytorch/examples
# a bound of 4 instead of 32 saves about 7% of a check).
_MODELS: "dict[int, tuple[cst.Module, FileModel]]" = {}
_MAX_CACHED = 4


def build_file_model(module: cst.Module) -> FileModel:
    cached = _MODELS.get(id(module))
    if cached is not None and cached[0] is module:
        return cached[1]
    model = FileModel(module=module)
    presume_fragment_imports(module, model.imports)  # a lesson's part importing nothing
    _Builder(model).build(module)
    if len(_MODELS) >= _MAX_CACHED:
        del _MODELS[next(iter(_MODELS))]
    _MODELS[id(module)] = (module, model)
    return model
