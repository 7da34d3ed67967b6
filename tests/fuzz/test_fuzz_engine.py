"""A short fuzz run in the suite (the long one: `python tools/fuzz.py --examples 10000`)."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis", reason="property tests need hypothesis (the test extra)")

import ast
import json
import tempfile

from hypothesis import HealthCheck, given, settings

from auditor.engine import EngineOptions, check_files
from auditor.files import sanitize_cell
from rules import ALL_RULES
from tests.fuzz.harness import check_input
from tests.fuzz.inputs import DEEP_SHAPES, HOSTILE_LITERALS, notebooks, python_files

_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=200, **_SETTINGS)
@given(python_files())
def test_python_sources_never_crash_the_engine(case):
    with tempfile.TemporaryDirectory() as directory:
        assert check_input(directory, *case) is None


@settings(max_examples=120, **_SETTINGS)
@given(notebooks())
def test_notebooks_never_crash_the_engine(case):
    with tempfile.TemporaryDirectory() as directory:
        assert check_input(directory, *case) is None


def test_known_hostile_inputs():
    cases = [
        ("empty.py", b""), ("bom.py", b"\xef\xbb\xbf"), ("nul.py", b"x = 1\n" * 2000 + b"\x00"),
        ("crlf.py", b"import torch\r\nmodel.eval()\r\n"), ("cr.py", b"import torch\rx = 1\r"),
        ("tabs.py", b"import torch\nif x:\n\tif y:\n        pass\n"),
        ("cookie.py", b"# coding: utf-16\nimport torch\n"), ("bogus.py", b"# coding: nope\n"),
        ("deep.py", b"x = " + b"(" * 300 + b")" * 300), ("chain.py", b"x = 1" + b" + 1" * 50_000),
        ("indent.py", b"".join(b" " * i + b"if x:\n" for i in range(120)) + b" " * 120 + b"pass\n"),
        ("huge.py", b"x = '" + b"a" * 1_000_000 + b"'\n"), ("latin.py", b"x = '\xe9'\n"),
        ("nb.ipynb", b'{"cells": [{"cell_type": "code", "source": ["%%bash\\n", "ls"]}]}'),
        ("nb2.ipynb", b'{"cells": [{"cell_type": "code", "source": "x = (\\n"}]}'),
        ("nb3.ipynb", b'{"cells": 3}'), ("nb4.ipynb", b"\xff\xfe"), ("nb5.ipynb", b""),
        ("ls.py", "x = 1\u2028y = 2\n".encode()), ("ff.py", b"\x0cimport torch\n\x0c\n"),
        # Found by tools/fuzz.py: JSON may escape a lone surrogate, which libcst cannot encode.
        ("nb6.ipynb", b'{"cells": [{"cell_type": "code", "source": "\\udcffimport torch\\n"}]}'),
    ]
    with tempfile.TemporaryDirectory() as directory:
        failures = [(name, check_input(directory, name, data)) for name, data in cases]
    assert [f for f in failures if f[1] is not None] == []


def _deep(shape: str, depth: int) -> bytes:
    return ("import torch\n" + DEEP_SHAPES[shape](depth) + "x.backward()\nloss.backward()\n").encode()


@pytest.mark.parametrize("shape", ["neg", "strings", "decorators"])
def test_deep_shapes_that_cope(shape):
    with tempfile.TemporaryDirectory() as directory:
        assert check_input(directory, "deep.py", _deep(shape, 1200)) is None


# Found by tools/fuzz.py (deep_texts): CPython compiles these, but the flow interpreter
# recursed once per level (auditor/analysis/flow.py: evaluate() on BooleanOperation and
# `not`, FlowAnalysis._exec_if on each `elif`), so past about 980 levels every rule that
# asks for the program crashed with RecursionError (TRN999 for TRN101, TRN102, ...).
# Chains are now walked in loops, nested operators evaluated to a bounded depth.
@pytest.mark.parametrize("shape", ["and", "or", "not", "elif"])
def test_deep_boolean_and_elif_chains(shape):
    with tempfile.TemporaryDirectory() as directory:
        assert check_input(directory, "deep.py", _deep(shape, 1100)) is None


# Found by probing literals libcst parses and CPython refuses: string_value()
# (rules/_queries.py) raised SyntaxError from evaluated_value, TRN603 crashed.
@pytest.mark.parametrize("literal", [r'"\N{NO SUCH NAME}"', r'"\x1"', r'"\u12"', "b'\u00e9'"])
def test_rules_read_strings_cpython_refuses(literal):
    text = (f"import torch\nopt = getattr(torch.optim, {literal})(model.parameters())\n"
            f"model.to({literal})\ntorch.device({literal})\nx = torch.load({literal})\n")
    with tempfile.TemporaryDirectory() as directory:
        assert check_input(directory, "literals.py", text.encode()) is None


# Same family, in the flow interpreter: auditor/analysis/flow.py _constant() called
# node.evaluated_value (SyntaxError on a bad escape) and int(node.value) (ValueError past
# 4300 digits) unguarded, so TRN101-103, TRN203-204, TRN401-403 crashed (TRN999) on
# `x = "\N{NO SUCH NAME}"` or `x = 1000...0`; so did model.subscript_key() (`loaders["\x1"]`),
# splits.split_of() and TRN203's `shuffle` key in a dict. They are now unknown.
@pytest.mark.parametrize("literal", HOSTILE_LITERALS)
def test_flow_reads_literals_cpython_refuses(literal):
    text = (f"import torch\nx = {literal}\nif mode == {literal}:\n    model.eval()\n"
            f"for phase in ({literal}, 'val'):\n    out = model(loaders[{literal}])\n"
            f"DataLoader(ds, **{{{literal}: True}})\nevaluate(model, {literal})\n"
            f"def evaluate(model, split):\n    return model(data[split])\n")
    with tempfile.TemporaryDirectory() as directory:
        assert check_input(directory, "literals.py", text.encode()) is None


# Found on real notebooks (fairseq MMS tutorials, peft token classification): a shell
# escape continued with backslashes was sanitized on its first line only, and the
# continuation lines gave a false TRN000 "unexpected indent".
def test_magic_continuation_lines_are_part_of_the_magic():
    cell = ("import torch\n! cd /tmp && wget x && \\\n    apt-key add y\n"
            "files = !ls \\\n   -l\nif files:\n    %time f(\\\n  2)\n    model.eval()\n"
            "y = 1 + \\\n  2\n")
    lines = sanitize_cell(cell)
    assert len(lines) == cell.count("\n") and lines[-2:] == ["y = 1 + \\", "  2"]
    ast.parse("\n".join(lines))
    notebook = {"cells": [{"cell_type": "code", "source": cell.splitlines(keepends=True)}]}
    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/nb.ipynb"
        with open(path, "w") as handle:
            json.dump(notebook, handle)
        [result] = check_files([path], EngineOptions(rules=ALL_RULES, jobs=1))
    assert result.error is None and [f for f in result.findings if f.code == "TRN000"] == []
