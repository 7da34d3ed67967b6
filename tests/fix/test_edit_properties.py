"""The text-edit core of fixes: an edit computed from two texts turns one into the other."""

from __future__ import annotations

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
