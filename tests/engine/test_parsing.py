"""auditor/speed/parsing.py: the same tree as libcst's parse, and validation back on afterwards."""

from __future__ import annotations

import libcst as cst
import pytest

from auditor.speed import parsing
from tests.conftest import REPO_ROOT, check_json, write

SOURCES = [
    "",
    "x = 1\n",
    "import torch\n\nmodel = torch.nn.Linear(2, 3)\nwith torch.no_grad():\n    y = model(x)  # comment\n",
    "async def f(a, /, b=1, *args, c: int = 2, **kw) -> None:\n    await g(*args, **kw)\n",
    "match point:\n    case (0, y) if y > 1:\n        pass\n    case _:\n        raise ValueError(f'{point!r:>10}')\n",
    "x = [i ** 2 for i in range(10) if i % 2]\nlambda: (yield)\n",
    "class A(B, metaclass=M):\n    @property\n    def p(self):\n        return 1.5e-3 + 0x1F + 1_000j\n",
    "if a:\n    pass\nelif b:\n    pass\nelse:\n    del c[1:2, ...]\n",
    "s = '\\x00' 'a' \"b\" '''c'''\r\ny = not -x | ~z\r\n",
]


@pytest.mark.parametrize("source", SOURCES)
def test_same_tree_as_libcst(source):
    fast = parsing.parse_module(source)
    reference = cst.parse_module(source)
    assert fast.code == source
    assert fast.deep_equals(reference)


def test_same_trees_on_the_repository_itself():
    paths = sorted((REPO_ROOT / "auditor").rglob("*.py"))[:40] + sorted((REPO_ROOT / "examples").rglob("*.py"))
    assert len(paths) > 40
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert parsing.parse_module(text).deep_equals(cst.parse_module(text)), path


def _validation_is_on() -> bool:
    try:
        cst.Name("not a name")  # an invalid node: refused only while validation runs
    except cst.CSTValidationError:
        return True
    return False


def test_validation_is_back_on_after_a_parse_and_after_a_syntax_error():
    assert _validation_is_on()
    parsing.parse_module("x = 1\n")
    assert _validation_is_on()
    with pytest.raises(cst.ParserSyntaxError):
        parsing.parse_module("def (:\n")
    assert _validation_is_on()


def test_the_switch_is_found_in_this_libcst():
    # Without it every parse silently pays for validation again (the fallback path).
    assert parsing._CAN_SKIP


def test_what_only_validation_refuses_is_a_syntax_error_and_the_others_are_checked(tmp_path):
    # libcst's grammar accepts bytes next to text; its node validation (and CPython) refuse it.
    write(tmp_path, "mixed.py", "import torch\n\nsuffix = b'.pt' 'h'\n")
    write(tmp_path, "train.py", "import torch\n\nstate = torch.load('w.pt')\n")
    report, proc = check_json("--no-cache", "--extend-select", "TRN602", str(tmp_path))  # TRN602 is opt-in
    by_file = {(f["path"].rsplit("/", 1)[-1], f["code"]) for f in report["findings"]}
    assert ("mixed.py", "TRN000") in by_file
    assert ("train.py", "TRN602") in by_file
    assert "internal error" not in proc.stderr


def _tokens_of(module: cst.Module, kind: type) -> list:
    found = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node):
            if type(node) is kind:
                found.append(node)
            return True

    module.visit(Collect())
    return found


def test_equal_tokens_and_whitespace_are_one_node_within_a_file():
    module = parsing.parse_module("f(a, b, c)\ng(d, e)\n")
    commas = _tokens_of(module, cst.Comma)
    assert len(commas) == 3 and len({id(c) for c in commas}) == 1
    spaces = [s for s in _tokens_of(module, cst.SimpleWhitespace) if s.value == ""]
    assert len(spaces) > 5 and len({id(s) for s in spaces}) == 1
    # libcst's own parse builds one node per occurrence: the sharing is ours.
    assert len({id(c) for c in _tokens_of(cst.parse_module("f(a, b, c)\ng(d, e)\n"), cst.Comma)}) == 3


def test_nodes_that_carry_meaning_are_never_shared():
    module = parsing.parse_module("x = a\ny = a\nz = f(a)\n")
    names = [n for n in _tokens_of(module, cst.Name) if n.value == "a"]
    assert len(names) == 3 and len({id(n) for n in names}) == 3


def test_tokens_with_different_layout_stay_apart():
    module = parsing.parse_module("f(a,b)\nf(a, b)\nf(a ,b)\n")
    layouts = {(c.whitespace_before.value, c.whitespace_after.value): c for c in _tokens_of(module, cst.Comma)}
    assert set(layouts) == {("", ""), ("", " "), (" ", "")}
    assert len({id(c) for c in layouts.values()}) == 3


def test_libcst_exports_its_own_classes_again_after_every_parse():
    exported = dict(vars(cst))
    parsing.parse_module("x = [1, 2]  # c\n")
    with pytest.raises(cst.ParserSyntaxError):
        parsing.parse_module("f(a, b\n")
    assert all(vars(cst)[name] is value for name, value in exported.items())
    assert isinstance(cst.Comma, type) and cst.Comma.__module__ == "libcst._nodes.op"


def test_no_file_keeps_another_files_tokens_alive():
    first = parsing.parse_module("f(a, b)\n")
    second = parsing.parse_module("f(a, b)\n")
    assert _tokens_of(first, cst.Comma)[0] is not _tokens_of(second, cst.Comma)[0]
    assert all(cache.cache_info().currsize == 0 for cache in parsing._constructors().caches)


def test_a_fix_rewrites_only_the_node_it_targets_when_tokens_are_shared(tmp_path):
    # Two calls share their comma and spacing nodes; the fix edits one call only.
    path = write(tmp_path, "train.py", "import torch\n\na = torch.load(p, map_location=d)\nb = max(p, d)\n")
    # TRN602 is opt-in, and its fix unsafe (a file may hold more than weights).
    check_json("--no-cache", "--extend-select", "TRN602", "--fix", "--unsafe-fixes", str(tmp_path))
    text = path.read_text(encoding="utf-8")
    assert "torch.load(p, map_location=d, weights_only=True)" in text
    assert "b = max(p, d)\n" in text


def test_the_native_entry_is_found_in_this_libcst_and_skips_the_import_machinery():
    # Without it every node costs a full `__import__` call again (libcst's entry point).
    assert parsing._native is not None
    assert parsing._native.__globals__["__builtins__"] == {"__import__": "".format}
    module = parsing._native("x = f(a)\n")
    assert module.deep_equals(cst.parse_module("x = f(a)\n")) and module.encoding == "utf-8"


def test_a_parser_that_needs_an_import_falls_back_to_libcsts_entry_point(monkeypatch):
    def asks_for_a_missing_module(text):
        raise KeyError("libcst._not_imported_yet")

    monkeypatch.setattr(parsing, "_native", asks_for_a_missing_module)
    assert parsing.parse_module("y = 2\n").deep_equals(cst.parse_module("y = 2\n"))
