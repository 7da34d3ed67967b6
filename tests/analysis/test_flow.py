"""The flow interpreter's states and the effects of helpers (no subprocess)."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from auditor.analysis.flow import EVAL, TRAIN, UNKNOWN, FlowAnalysis, State
from auditor.analysis.model import build_file_model
from auditor.analysis.program import program_of


def _program(source: str):
    return program_of(build_file_model(cst.parse_module(textwrap.dedent(source))))


def _sites(prog, code: str):
    return [s for s in prog.model.calls if prog.model.code(s.node) == code]


def _function(prog, name: str):
    return next(f for f, info in prog.model.function_info.items() if info.name == name)


def test_state_tuples_stay_sorted_and_unique():
    state = State().with_mode("net", EVAL).with_mode("model.encoder", TRAIN).with_mode("alpha", UNKNOWN)
    assert state.modes == (("alpha", UNKNOWN), ("model.encoder", TRAIN), ("net", EVAL))
    assert state.with_mode("model", EVAL).modes == (("alpha", UNKNOWN), ("model", EVAL), ("net", EVAL))
    state = State().with_env("phase", "val").with_env("epoch", 3).with_env("phase", "train")
    assert state.env == (("epoch", 3), ("phase", "train"))
    assert state.with_env("epoch", 3).env == state.env
    assert state.with_env("epoch", True).env == (("epoch", True), ("phase", "train"))  # True == 1, kept apart
    from auditor.analysis.flow import _DROP
    assert state.with_env("phase", _DROP).env == (("epoch", 3),)
    assert state.with_env("other", _DROP) is state
    state = State().with_fact("b", True).with_fact("a", False).with_fact("b", False)
    assert state.facts == (("a", False), ("b", False))


def test_a_helper_has_its_effect_at_every_call():
    prog = _program("""
        import torch
        def validate(model, loader):
            model.eval()
            out = [model(x) for x in loader]
            model.train()
            return out

        def fit(model, loaders):
            model.eval()
            validate(model, loaders)
            first = model(1)
            model.eval()
            validate(model, loaders)
            second = model(2)
    """)
    for code in ("model(1)", "model(2)"):
        (site,) = _sites(prog, code)
        assert {s.mode("model") for s in prog.flow.states_at(site.node)} == {TRAIN}
    assert prog.flow.effects(_function(prog, "validate")) == {"model": frozenset({TRAIN})}


def test_helpers_that_set_no_mode_have_no_effects_and_callers_of_setters_do():
    prog = _program("""
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(2, 2)

        def log(model, value):
            print(value)
            helper(model)

        def helper(model):
            return model

        def build(holder):
            holder.net = Net()

        def freeze(model):
            helper(model)
            to_eval(model)

        def to_eval(model):
            model.eval()
    """)
    flow: FlowAnalysis = prog.flow
    assert flow.effects(_function(prog, "log")) == {}
    assert flow.effects(_function(prog, "helper")) == {}
    assert flow.effects(_function(prog, "build")) == {"holder.net": frozenset({TRAIN})}
    assert flow.effects(_function(prog, "freeze")) == {"model": frozenset({EVAL})}
    assert flow.effects(_function(prog, "__init__")) == {"self.layer": frozenset({TRAIN})}


def test_recursive_helpers_end():
    prog = _program("""
        def a(model, n):
            model.eval()
            if n:
                b(model, n - 1)

        def b(model, n):
            a(model, n)
            model.train()
    """)
    assert prog.flow.effects(_function(prog, "b")) == {"model": frozenset({TRAIN})}


def test_cycles_among_functions_are_found():
    from auditor.analysis.flow import _acyclic

    class F:  # stands for a FunctionDef: only its identity matters
        pass

    a, b, c = F(), F(), F()
    nodes = {a, b, c}
    assert _acyclic(nodes, {b: [a], c: [b, a]})  # a calls b and c, b calls c
    assert not _acyclic(nodes, {b: [a], a: [b]})  # a and b call each other
    assert not _acyclic(nodes, {c: [c]})  # c calls itself
    assert _acyclic({a, b}, {b: [a], a: [c], c: [b]})  # the cycle runs through c, left out


SOURCE_WITH_HELPERS = """
    import torch
    def evaluate(model, loader):
        model.eval()
        for x in loader:
            if x is None:
                continue
            model(x)
        settle(model, 2)

    def settle(model, n):
        if n:
            settle(model, n - 1)
        model.train()

    def fit(model, loader, epochs):
        for epoch in range(epochs):
            for x in loader:
                model(x).backward()
            settle(model, 1)
"""


@pytest.mark.parametrize("recursive", [True, False])
def test_a_flow_run_again_with_the_project_matches_a_fresh_one(recursive):
    from auditor.analysis.project import FileSummary, ProjectIndex

    # Another file calls evaluate() (which this file does not) with the model in eval mode.
    index = ProjectIndex({"main": FileSummary(module="main", calls=[("helpers", "evaluate", "off", {0: EVAL})])})
    source = textwrap.dedent(SOURCE_WITH_HELPERS)
    if not recursive:
        source = source.replace("settle(model, n - 1)", "print(n)")
    reused_model = build_file_model(cst.parse_module(source))
    first = FlowAnalysis(reused_model).run()
    again = FlowAnalysis(reused_model, index, "helpers", previous=first).run()
    fresh_model = build_file_model(cst.parse_module(source))
    fresh = FlowAnalysis(fresh_model, index, "helpers").run()
    # With recursion among the helpers, effects are computed again; without, taken over.
    assert again._setters_acyclic is not recursive
    if not recursive:
        assert again._effects == first._effects
    assert len(reused_model.calls) == len(fresh_model.calls)
    for reused_site, fresh_site in zip(reused_model.calls, fresh_model.calls):
        assert again.states_at(reused_site.node) == fresh.states_at(fresh_site.node)
    site = next(s for s in reused_model.calls if reused_model.code(s.node) == "model(x)")
    assert {(s.mode("model"), s.grad) for s in again.states_at(site.node)} == {(EVAL, "off")}
    assert {(s.mode("model"), s.grad) for s in first.states_at(site.node)} == {(EVAL, "on")}


CONDITIONS = [
    "x", "phase == 'train'", "phase  ==  \"train\"", "(a)", "( ( a . b ) )", "a.b.c is not None",
    "not  x", "- 1 < y <= 2", "~x", "a and (b or not c)", "k not  in ks", "k is not None",
    "isinstance(m, nn.Module)", "f( a , b = 2 ,)", "f(*args, **kw)", "g(x)(y)", "f(key=1)",
    "a != b", "0x1F > 1.5e3", "rank == 0 and args.distributed",
    # left to libcst: comments and line breaks inside brackets, subscripts, tuples...
    "(a  # why\n and b)", "f(\n    x,\n)", "d['k']", "(lambda: 1)()", "[x] == y", "k in (1, 2)",
    "'a' 'b' == c",
]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_condition_keys_its_fact_by_its_code_as_libcst_writes_it(condition):
    from auditor.speed.render import render

    module = cst.parse_module(f"if {condition}:\n    pass\n")
    model = build_file_model(module)
    test = module.body[0].test
    assert model.code(test) == module.code_for_node(test) == condition
    rendered = render(test)
    assert (rendered is not None) == (CONDITIONS.index(condition) < CONDITIONS.index("(a  # why\n and b)"))
    if rendered is not None:
        assert rendered == condition


def test_a_condition_nested_past_the_render_depth_is_keyed_by_libcst():
    from auditor.speed.render import MAX_RENDER_DEPTH, render

    condition = " and ".join(f"a{i}" for i in range(MAX_RENDER_DEPTH + 10))
    module = cst.parse_module(f"if {condition}:\n    pass\n")
    test = module.body[0].test
    assert render(test) is None
    assert build_file_model(module).code(test) == condition


def test_the_same_condition_written_twice_is_one_fact():
    prog = _program("""
        def run(model, loader, training):
            for x in loader:
                if training and x is not None:
                    model.train()
                else:
                    model.eval()
                first = model(x)
                if training and x is not None:
                    second = model(x)
    """)
    first, second = _sites(prog, "model(x)")
    assert {s.mode("model") for s in prog.flow.states_at(first.node)} == {TRAIN, EVAL}
    assert {s.mode("model") for s in prog.flow.states_at(second.node)} == {TRAIN}
