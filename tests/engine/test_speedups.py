"""auditor.speed.speedups: the C accelerator builds the same nodes and the same models as Python does."""

from __future__ import annotations

import dataclasses
import sys

import libcst as cst
import pytest

from auditor.speed import parsing, speedups
from tests.conftest import REPO_ROOT, run_auditor

accelerated = pytest.mark.skipif(not speedups.available(), reason="auditor.speed._speedups is not compiled")
slots = pytest.mark.skipif(sys.version_info < (3, 10), reason="dataclass(slots=True) needs Python 3.10")


def _fields(node: cst.CSTNode) -> dict:
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}


@accelerated
def test_a_builder_fills_every_field_from_keywords_and_defaults():
    build = speedups.builder_for(cst.Name)
    value, lpar, rpar = "x", [cst.LeftParen()], [cst.RightParen()]
    node = build(value=value, lpar=lpar, rpar=rpar)
    assert type(node) is cst.Name
    assert node.value is value and node.lpar is lpar and node.rpar is rpar
    assert _fields(node) == _fields(cst.Name(value, lpar=lpar, rpar=rpar))
    assert build(value=value).lpar == () == cst.Name(value).lpar


@accelerated
def test_a_builder_calls_default_factories_for_each_node():
    defaults = {f.name for f in dataclasses.fields(cst.Call) if f.default_factory is not dataclasses.MISSING}
    assert defaults  # libcst's Call has factory defaults (its whitespace)
    build = speedups.builder_for(cst.Call)
    first, second = build(func=cst.Name("f")), build(func=cst.Name("g"))
    for name in defaults:
        assert getattr(first, name).deep_equals(getattr(cst.Call(cst.Name("f")), name))
        assert getattr(first, name) is not getattr(second, name)  # a fresh value per node
    assert cst.Module([cst.SimpleStatementLine([cst.Expr(first)])]).code == "f()\n"
    assert cst.Module([cst.SimpleStatementLine([cst.Expr(second)])]).code == "g()\n"


@accelerated
def test_a_builder_skips_validation_but_the_class_still_validates():
    build = speedups.builder_for(cst.Name)
    assert build(value="not a name").value == "not a name"  # only parsing uses builders
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


@accelerated
def test_what_a_builder_was_not_made_for_goes_to_the_class():
    build = speedups.builder_for(cst.Name)
    assert build("x").deep_equals(cst.Name("x"))  # positional: the class builds it
    with pytest.raises(cst.CSTValidationError):
        build("not a name")  # ... and validates it
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        build(value="x", colour="red")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'value'"):
        build(lpar=())


@accelerated
@slots
def test_a_failing_default_factory_raises_and_leaks_nothing():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Node:
        a: object
        b: list = dataclasses.field(default_factory=lambda: 1 / 0)

    build = speedups.builder_for(Node)
    assert build(a=1, b=2).b == 2
    marker = object()
    before = sys.getrefcount(marker)
    with pytest.raises(ZeroDivisionError):
        build(a=marker)
    assert sys.getrefcount(marker) == before


@accelerated
def test_built_nodes_hold_and_release_their_fields():
    value = "a value held by nodes"
    before = sys.getrefcount(value)
    build = speedups.builder_for(cst.Name)
    nodes = [build(value=value) for _ in range(100)]
    assert sys.getrefcount(value) == before + 100
    del nodes
    assert sys.getrefcount(value) == before


@slots
def test_no_builder_for_classes_it_cannot_fill():
    @dataclasses.dataclass(frozen=True)
    class WithDict:  # fields in a __dict__, not in slots
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    assert speedups.builder_for(WithDict) is None
    assert speedups.builder_for(Derived) is None
    assert speedups.builder_for(cst.BaseExpression) is None  # abstract
    assert speedups.builder_for(int) is None


def test_no_builders_when_the_accelerator_is_switched_off(monkeypatch):
    monkeypatch.setenv("AUDITOR_NO_ACCELERATOR", "1")
    assert not speedups.available() and speedups.builder_for(cst.Name) is None
    constructors = parsing._Constructors()
    assert constructors.stand_ins and all(
        not isinstance(s, type) and type(s).__name__ != "Builder" for s in constructors.stand_ins.values())


@accelerated
def test_parsing_uses_builders_for_the_nodes_that_carry_meaning():
    stand_ins = parsing._constructors().stand_ins
    assert type(stand_ins["Name"]).__name__ == "Builder" and type(stand_ins["Call"]).__name__ == "Builder"
    assert stand_ins["Comma"].__wrapped__ is not cst.Comma  # a token: its cache wraps a builder


@accelerated
def test_a_namespace_answers_from_its_names_then_from_the_fallback():
    class Fallback:
        shared = "from the fallback"
        only_here = 3

    namespace = speedups.namespace({"shared": "from the names"}, Fallback)
    assert namespace.shared == "from the names" and namespace.only_here == 3
    # a name made afresh (as the native parser makes them) is found the same way
    assert getattr(namespace, "".join(["sha", "red"])) == "from the names"
    with pytest.raises(AttributeError):
        namespace.missing  # noqa: B018  (the fallback's own error)


@accelerated
def test_a_namespace_finds_every_name_of_a_large_table_and_keeps_its_own_copy():
    names = {f"Node{i}": i for i in range(300)}
    names.update({"Ünïcode": "wide", "x" * 1000: "long", "": "empty"})
    namespace = speedups.namespace(names, object())
    for name, value in names.items():
        assert getattr(namespace, "".join(list(name))) == value  # fresh strings, as the parser's
    for near_miss in ("Node300", "Node", "node1", "Node1 ", "Ünïcod", "x" * 999):
        with pytest.raises(AttributeError):
            getattr(namespace, near_miss)
    names["Node1"] = "changed after"
    names["added"] = 1
    assert namespace.Node1 == 1
    with pytest.raises(AttributeError):
        namespace.added  # noqa: B018


@accelerated
def test_the_parser_sees_the_stand_ins_only_while_it_parses(monkeypatch):
    seen = []
    native = parsing._native

    def spying_native(text):
        seen.append(sys.modules["libcst"])
        return native(text)

    monkeypatch.setattr(parsing, "_native", spying_native)
    tree = parsing.parse_module("x = f(1)\n")
    assert tree.deep_equals(cst.parse_module("x = f(1)\n"))
    assert seen[0] is not cst and type(seen[0]).__name__ == "Namespace"
    assert seen[0].Call is parsing._constructors().stand_ins["Call"] and seen[0].parse_module is cst.parse_module
    assert sys.modules["libcst"] is cst

    def failing_native(text):
        raise RuntimeError("the parser broke")

    monkeypatch.setattr(parsing, "_native", failing_native)
    with pytest.raises(RuntimeError):
        parsing.parse_module("x = 1\n")
    assert sys.modules["libcst"] is cst  # put back whatever happened


def test_the_same_report_with_and_without_the_accelerator(tmp_path):
    examples = str(REPO_ROOT / "examples")
    runs = [run_auditor("check", "--no-cache", "--output-format", "json", examples, env=env)
            for env in ({}, {"AUDITOR_NO_ACCELERATOR": "1"})]
    assert all(proc.returncode == 1 for proc in runs), [proc.stderr for proc in runs]
    assert '"code": "TRN' in runs[0].stdout
    assert runs[0].stdout == runs[1].stdout


# --- the model's walk -------------------------------------------------------------------

WALK_SOURCES = [
    "",
    "import torch\nfrom torch import nn as n2, optim\nx = 1\n",
    "@dec(1)\n@other\nclass A(nn.Module, metaclass=M):\n    x: int = f()\n    def __init__(self, a, /, b=g(), *c, d, **e):\n"
    "        super().__init__()\n        self.l = nn.Linear(2, 3)\n    async def forward(self, x):\n"
    "        return [y async for y in h(x) if (z := y)] or (lambda q=k(): q)()\n",
    "def outer(model, loader):\n    def inner(batch):\n        with torch.no_grad(), ctx() as (a, b):\n"
    "            return model(batch)\n    for i, (x, y) in enumerate(loader):\n        try:\n"
    "            inner(x)\n        except (E1, E2) as e:\n            raise F() from e\n        else:\n"
    "            pass\n        finally:\n            del x[f(1):g(2), ...]\n    while cond(): break\n",
    "match cmd:\n    case Point(x=0, y=f) if g(f):\n        m.eval()\n    case [1, *rest] | {'k': v}:\n"
    "        global q\n    case _:\n        print(f'{a!r:>{w}}' 'b' rb'c')\n",
    "x = a if b else c; y += d(e)[h] ** -i; assert j, k(l)\nz: list[int]\nimport a.b.c as d\n",
]


def _model_signature(model) -> tuple:
    ids = lambda nodes: [id(n) for n in nodes]  # noqa: E731
    return (
        list(model.parents.items()),
        [(id(s.node), s.qualname, s.callee, id(s.function), id(s.statement)) for s in model.calls],
        {name: [(b.target, id(b.value), id(b.function), id(b.statement), b.kind) for b in bindings]
         for name, bindings in model.bindings.items()},
        [(id(node), info.qualname, info.params, ids(c.node for c in info.calls), ids(info.returns))
         for node, info in model.function_info.items()],
        ids(model.classes), [(c.name, c.bases, list(c.methods)) for c in model.class_infos],
        {id(owner): ids(s.node for s in sites) for owner, sites in model.statement_calls.items()},
        ids(s.node for s in model.module_calls), dict(model.imports.aliases),
    )


def _built(module, monkeypatch, *, in_c: bool):
    from auditor.analysis import model as model_module

    with monkeypatch.context() as patch:
        if not in_c:
            patch.setattr(speedups, "walker", lambda: None)
        built = model_module.FileModel(module=module)
        model_module._Builder(built).build(module)
    return built


@accelerated
@pytest.mark.parametrize("source", WALK_SOURCES)
def test_the_c_walk_builds_the_same_model_as_the_python_walk(source, monkeypatch):
    module = parsing.parse_module(source)
    in_c, in_python = (_built(module, monkeypatch, in_c=flag) for flag in (True, False))
    assert _model_signature(in_c) == _model_signature(in_python)
    assert len(in_c.parents) > 0 or source == ""


@accelerated
def test_the_c_walk_builds_the_same_models_on_the_repository(monkeypatch):
    paths = sorted((REPO_ROOT / "auditor").rglob("*.py")) + sorted((REPO_ROOT / "examples").rglob("*.py"))
    for path in paths:
        module = parsing.parse_module(path.read_text(encoding="utf-8"))
        in_c, in_python = (_built(module, monkeypatch, in_c=flag) for flag in (True, False))
        assert _model_signature(in_c) == _model_signature(in_python), path


def _c_walk(module, **changes):
    from auditor.analysis import model as m

    tables = dict(fields={}, fields_of=m._fields_of, keep=set(m._KEEP), skip=set(m._SKIP),
                  ignored=set(m._IGNORED), classify=m._classify, leaves=m._LEAVES,
                  watched={cst.Call: None}, parents={}, children_of=m.syntactic_children)
    tables.update(changes)
    events = speedups.walker()(module, *tables.values())
    return events, tables


@accelerated
def test_the_c_walk_reports_entering_and_leaving_watched_nodes_in_order():
    module = parsing.parse_module("f(g(1), h())\n")
    events, tables = _c_walk(module)
    calls = [(cst.Module([]).code_for_node(node), entering) for node, entering in zip(events[::2], events[1::2])]
    assert calls == [("f(g(1), h())", True), ("g(1)", True), ("g(1)", False), ("h()", True), ("h()", False),
                     ("f(g(1), h())", False)]
    assert all(type(parent) is not cst.Comma for parent in tables["parents"].values())
    assert tables["fields"][cst.Call] == ("func", "args")  # asked of fields_of once, then kept


@accelerated
def test_the_c_walk_asks_python_about_kinds_it_does_not_know():
    module = parsing.parse_module("x = f(a)\n")
    asked = []

    def classify(value):
        asked.append(type(value))
        return False

    events, tables = _c_walk(module, keep=set(), ignored=set(), classify=classify)
    assert cst.Call in asked and cst.Name in asked
    # A field holding one node is a child only when Python says so (here: never);
    # sequences of nodes (a module's statements, an assignment's targets) still are.
    assert {type(n) for n in tables["parents"]} == {cst.SimpleStatementLine, cst.Assign, cst.AssignTarget}
    assert events == []


@accelerated
def test_an_error_inside_the_c_walk_is_raised_not_a_crash():
    module = parsing.parse_module("x = f(a)\n")

    def fields_of(cls):
        raise RuntimeError(f"no fields for {cls.__name__}")

    with pytest.raises(RuntimeError, match="no fields for Module"):
        _c_walk(module, fields_of=fields_of)
    with pytest.raises(TypeError):
        speedups.walker()(module, {}, None)
