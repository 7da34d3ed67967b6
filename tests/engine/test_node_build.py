"""auditor.node_build: libcst nodes built in C during a parse, the same nodes as the class builds."""

from __future__ import annotations

import dataclasses
import sys

import libcst as cst
import pytest

from auditor import node_build, parsing
from tests.conftest import REPO_ROOT, run_auditor

accelerated = pytest.mark.skipif(not node_build.available(), reason="auditor._nodebuild is not compiled")


def _fields(node: cst.CSTNode) -> dict:
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}


@accelerated
def test_a_builder_fills_every_field_from_keywords_and_defaults():
    build = node_build.builder_for(cst.Name)
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
    build = node_build.builder_for(cst.Call)
    first, second = build(func=cst.Name("f")), build(func=cst.Name("g"))
    for name in defaults:
        assert getattr(first, name).deep_equals(getattr(cst.Call(cst.Name("f")), name))
        assert getattr(first, name) is not getattr(second, name)  # a fresh value per node
    assert cst.Module([cst.SimpleStatementLine([cst.Expr(first)])]).code == "f()\n"
    assert cst.Module([cst.SimpleStatementLine([cst.Expr(second)])]).code == "g()\n"


@accelerated
def test_a_builder_skips_validation_but_the_class_still_validates():
    build = node_build.builder_for(cst.Name)
    assert build(value="not a name").value == "not a name"  # only parsing uses builders
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


@accelerated
def test_what_a_builder_was_not_made_for_goes_to_the_class():
    build = node_build.builder_for(cst.Name)
    assert build("x").deep_equals(cst.Name("x"))  # positional: the class builds it
    with pytest.raises(cst.CSTValidationError):
        build("not a name")  # ... and validates it
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        build(value="x", colour="red")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'value'"):
        build(lpar=())


@accelerated
def test_a_failing_default_factory_raises_and_leaks_nothing():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Node:
        a: object
        b: list = dataclasses.field(default_factory=lambda: 1 / 0)

    build = node_build.builder_for(Node)
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
    build = node_build.builder_for(cst.Name)
    nodes = [build(value=value) for _ in range(100)]
    assert sys.getrefcount(value) == before + 100
    del nodes
    assert sys.getrefcount(value) == before


def test_no_builder_for_classes_it_cannot_fill():
    @dataclasses.dataclass(frozen=True)
    class WithDict:  # fields in a __dict__, not in slots
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    assert node_build.builder_for(WithDict) is None
    assert node_build.builder_for(Derived) is None
    assert node_build.builder_for(cst.BaseExpression) is None  # abstract
    assert node_build.builder_for(int) is None


def test_no_builders_when_the_accelerator_is_switched_off(monkeypatch):
    monkeypatch.setenv("AUDITOR_NO_ACCELERATOR", "1")
    assert not node_build.available() and node_build.builder_for(cst.Name) is None
    constructors = parsing._Constructors()
    assert constructors.stand_ins and all(
        not isinstance(s, type) and type(s).__name__ != "Builder" for s in constructors.stand_ins.values())


@accelerated
def test_parsing_uses_builders_for_the_nodes_that_carry_meaning():
    stand_ins = parsing._constructors().stand_ins
    assert type(stand_ins["Name"]).__name__ == "Builder" and type(stand_ins["Call"]).__name__ == "Builder"
    assert stand_ins["Comma"].__wrapped__ is not cst.Comma  # a token: its cache wraps a builder


def test_the_same_report_with_and_without_the_accelerator(tmp_path):
    examples = str(REPO_ROOT / "examples")
    runs = [run_auditor("check", "--no-cache", "--output-format", "json", examples, env=env)
            for env in ({}, {"AUDITOR_NO_ACCELERATOR": "1"})]
    assert all(proc.returncode == 1 for proc in runs), [proc.stderr for proc in runs]
    assert '"code": "TRN' in runs[0].stdout
    assert runs[0].stdout == runs[1].stdout
