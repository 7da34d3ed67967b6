"""The flow interpreter's states and the effects of helpers (no subprocess)."""

from __future__ import annotations

import textwrap

import libcst as cst

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
