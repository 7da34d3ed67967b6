"""Fix builders: libcst transforms of the flagged code, serialized as text edits.

A rule builds its fix with `make_fix(ctx, description, {old_node: new_node})`; the
transform runs on the file's tree and the change is recorded as the smallest
`Edit` that turns the old text into the new one. `auditor check --fix` applies
exactly those edits (see auditor/fixer.py), so the JSON `fix` field shows what
`--fix` would do.
"""

from auditor.fixes.edits import (
    SAFE,
    UNSAFE,
    add_keyword,
    insert_after,
    insert_before,
    make_fix,
    owns_its_lines,
    parse_statement,
)

__all__ = ["SAFE", "UNSAFE", "add_keyword", "insert_after", "insert_before", "make_fix",
           "owns_its_lines", "parse_statement"]
