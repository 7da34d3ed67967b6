"""The cross-file index and when a file's flow is re-run with it (no subprocess)."""

from __future__ import annotations

import textwrap

import libcst as cst

from auditor.analysis.flow import EVAL, UNKNOWN
from auditor.analysis.model import build_file_model
from auditor.analysis.program import program_of
from auditor.analysis.project import FileSummary, ProjectIndex

HELPERS = """
    def evaluate(model, loader):
        return [model(x) for x in loader]

    def unused(model):
        return model
"""


def _index(*calls) -> ProjectIndex:
    return ProjectIndex({"train": FileSummary(module="train", calls=list(calls)),
                         "helpers": FileSummary(module="helpers", functions=["evaluate", "unused"])})


def _model(source: str):
    return build_file_model(cst.parse_module(textwrap.dedent(source)))


def _forward(prog):
    return next(s for s in prog.model.calls if prog.model.code(s.node) == "model(x)")


def test_index_knows_which_modules_and_functions_are_called():
    index = _index(("helpers", "evaluate", "off", {0: EVAL}), ("pkg.engine", "run", "on", {}))
    assert index.has_callers("helpers") and index.has_callers("pkg.engine")
    assert not index.has_callers("train") and not index.has_callers("pkg")
    assert index.called_functions("helpers") == {"evaluate"}
    assert index.called_functions("train") == frozenset()
    assert index.call_contexts("helpers", "evaluate") == [("off", {0: EVAL})]


def test_flow_is_rerun_when_another_file_calls_a_function_of_the_file():
    model = _model(HELPERS)
    first = program_of(model)  # phase 1: no project
    assert {s.mode("model") for s in first.flow.states_at(_forward(first).node)} == {None}
    again = program_of(model, _index(("helpers", "evaluate", "off", {0: EVAL})), "helpers")
    assert again is not first
    assert [(s.mode("model"), s.grad) for s in again.flow.states_at(_forward(again).node)] == [(EVAL, "off")]


def test_flow_is_kept_when_other_files_call_none_of_its_functions():
    model = _model(HELPERS)
    first = program_of(model)
    index = _index(("helpers", "Evaluator", "off", {0: UNKNOWN}))  # a name the module does not define
    assert index.has_callers("helpers")
    kept = program_of(model, index, "helpers")
    assert kept is first and kept.flow.project is index  # asked once: later calls keep it too
    assert program_of(model, index, "helpers") is first
