"""The text-edit core of fixes: an edit computed from two texts turns one into the other."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis", reason="property tests need hypothesis (the test extra)")

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.fixer import apply_edits
from auditor.fixes.edits import minimal_edit

TEXT = st.text(alphabet="ab \n\r\t(é", max_size=60)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_minimal_edit_turns_old_into_new(old, new):
    edit = minimal_edit(old, new)
    assert apply_edits(old, [edit]) == new


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT, st.integers(min_value=0, max_value=60))
def test_pure_insertions_start_at_a_line_start_when_they_can(prefix, inserted, cut):
    old = prefix
    cut = min(cut, len(old))
    line_start = old.rfind("\n", 0, cut) + 1
    block = inserted.replace("\n", "") + "\n"
    new = old[:line_start] + block + old[line_start:]
    edit = minimal_edit(old, new)
    assert apply_edits(old, [edit]) == new
    if edit.line == edit.end_line and edit.column == edit.end_column and edit.content.endswith("\n"):
        assert edit.column == 1


# A fix that changes one expression renders that expression alone; the statement path
# (render and transform the statement holding it) must give the very same edit.
STATEMENTS = [
    "state = torch.load(path)\n",
    "model.load_state_dict(torch.load(\n    path,\n    map_location='cpu',  # where\n))\n",
    "if ok:\n    x = [torch.load(p) for p in paths]\n",
    "y = f(torch.load(p, map_location=d), z)  # trailing\n",
    "torch.load(p)\n",
    "z = (torch.load(p))\n",
    "z = g(torch.load(*args))\n",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_an_expression_fix_gives_the_same_edit_as_its_statement(statement):
    import libcst as cst

    from auditor.context import FileContext
    from auditor.files import source_from_bytes
    from auditor.fixes import edits

    text = "import torch\n\n" + statement
    module = cst.parse_module(text)
    source = source_from_bytes("t.py", text.encode("utf-8"))
    call = next(site.node for site in FileContext(source, module).model.calls
                if site.callee == "torch.load")
    changes = {call: lambda node: edits.add_keyword(node, "weights_only", "True")}

    local = edits._expression_edit(FileContext(source, module), changes)
    whole_ctx = FileContext(source, module)
    original = edits._expression_edit
    edits._expression_edit = lambda ctx, changes: None
    try:
        whole = edits._statement_edits(whole_ctx, changes)
    finally:
        edits._expression_edit = original
    assert whole, "the statement path found an edit"
    if statement.startswith("z = ("):
        assert local is None  # its parentheses are not where libcst places the call: the statement decides
    else:
        assert local == whole
    assert apply_edits(text, whole).count("weights_only=True") == 1
