"""The cheap first look: files that cannot hold training code skip libcst, and nothing is missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.engine import EngineOptions
from auditor.speed.prefilter import compile_check, may_hold_training_code
from rules import ALL_RULES
from tests.engine.helpers import PLAIN, TRAIN, ParseCounter, files_of, flat, notebook, run, write

REPO_ROOT = Path(__file__).resolve().parents[2]
PATTERN = EngineOptions(rules=ALL_RULES).relevance


def test_files_without_training_code_are_not_parsed_by_libcst(tmp_path, monkeypatch):
    write(tmp_path, "plain.py", PLAIN)
    write(tmp_path, "train.py", TRAIN)
    counter = ParseCounter(monkeypatch)
    results = run(files_of(tmp_path))
    assert counter.count == 1 and "torch" in counter.paths[0]
    assert all(r.checked for r in results)


def test_a_syntax_error_in_a_plain_file_is_still_reported(tmp_path):
    write(tmp_path, "plain.py", "def add(a, b)\n    return a + b\n")
    [result] = run(files_of(tmp_path))
    [finding] = result.findings
    assert (finding.code, finding.line) == ("TRN000", 1)


def test_what_only_cpython_refuses_is_no_syntax_error(tmp_path):
    # The compiler rejects `return` outside a function; the parser (and libcst) accept it.
    write(tmp_path, "plain.py", "return 1\n")
    write(tmp_path, "train.py", "import torch\nreturn 1\n")
    assert [r.findings for r in run(files_of(tmp_path))] == [[], []]


@pytest.mark.parametrize("text", [
    "x = " + "(" * 250 + "1" + ")" * 250 + "\n",
    "import torch\nx = " + "[" * 1000 + "]" * 1000 + "\n",
])
def test_nesting_beyond_cpython_limits_is_a_syntax_error_without_libcst(tmp_path, monkeypatch, text):
    write(tmp_path, "deep.py", text)
    counter = ParseCounter(monkeypatch)
    [result] = run(files_of(tmp_path))
    assert counter.count == 0
    assert [f.code for f in result.findings] == ["TRN000"]


def test_recursion_in_the_compiler_is_a_file_error_not_a_hang(tmp_path, monkeypatch):
    write(tmp_path, "chain.py", "import torch\nx = 1" + " + 1" * 100_000 + "\n")
    counter = ParseCounter(monkeypatch)
    [result] = run(files_of(tmp_path))
    assert counter.count == 0
    assert result.error is not None and "nested" in result.error.message and not result.checked


def test_the_first_look_changes_no_finding_on_any_rule_example(tmp_path):
    # Some rules run without any import (`needs_imports = ()`): the verbs must catch them.
    for rule in ALL_RULES:
        for kind, examples in (("bad", rule.bad_examples), ("good", rule.good_examples)):
            for index, example in enumerate(examples):
                write(tmp_path, f"{rule.code}_{kind}_{index}.py", example)
    paths = files_of(tmp_path)
    assert len(paths) > 50
    assert flat(run(paths, prefilter=True)) == flat(run(paths, prefilter=False))


def test_helpers_without_imports_pass_the_first_look():
    helper = "def evaluate(model, batches):\n    model.eval()\n    return [model(b) for b in batches]\n"
    assert may_hold_training_code(helper, PATTERN)


def test_prefilter_changes_no_finding_on_the_examples_and_tests(tmp_path):
    paths = [str(p) for p in sorted((REPO_ROOT / "examples").rglob("*")) if p.suffix in (".py", ".ipynb")]
    paths += [str(p) for p in sorted((REPO_ROOT / "tests").rglob("*.py"))][:150]
    notebook(tmp_path, "nb.ipynb", ["%matplotlib inline\n", TRAIN])
    paths.append(str(tmp_path / "nb.ipynb"))
    assert flat(run(paths, prefilter=True)) == flat(run(paths, prefilter=False))


def test_compile_check_silences_warnings(capfd):
    assert compile_check('x = "\\d"\n', "w.py").ok
    assert capfd.readouterr().err == ""


def _nested_loops(depth: int) -> str:
    return "import torch\n" + "".join("    " * i + f"for a{i} in b:\n" for i in range(depth)) + "    " * depth + "pass\n"


def test_too_many_nested_blocks_are_still_refused_like_cpython(tmp_path, monkeypatch):
    # Only CPython's code generation counts blocks: the first look must still see it.
    write(tmp_path, "blocks.py", _nested_loops(21))
    write(tmp_path, "fine.py", _nested_loops(20))
    counter = ParseCounter(monkeypatch)
    blocks, fine = run(files_of(tmp_path))
    try:  # CPython 3.13 lifted the limit of 20 nested blocks: what counts is the Python running
        compile(_nested_loops(21), "blocks.py", "exec")
        refused = False
    except SyntaxError:
        refused = True
    expected = [("TRN000", True)] if refused else []
    assert [(f.code, "nested blocks" in f.message) for f in blocks.findings] == expected
    assert fine.findings == [] and counter.count == (1 if refused else 2)


@pytest.mark.parametrize("text, deep", [
    ("x = 1\n", False),
    (_nested_loops(21), True),
    # Twenty-one indentations from continuation lines: counted, so the whole compiler runs.
    ("x = (1,\n" + "".join(" " * i + "2,\n" for i in range(1, 22)) + ")\n", True),
    ("if a:\n\f    pass\n", False),
    # The first line's indentation counts too (it follows no newline).
    (" " * 21 + "x = (1,\n" + "".join(" " * i + "2,\n" for i in range(1, 21)) + ")\n", True),
    ("x = (1,\n" + "".join(" " * i + "2,\n" for i in range(1, 21)) + ")\n", False),
])
def test_the_nesting_screen_never_undercounts(text, deep):
    from auditor.speed.prefilter import _may_nest_too_many_blocks

    assert _may_nest_too_many_blocks(text) is deep
