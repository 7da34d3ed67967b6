"""Files that are fragments of one program: no import of their own, torch names used freely.

Lesson and book repositories often split one script into parts (`part_1_model.py`,
`part_3_train.py`) that run in one namespace (a notebook pasting them in turn, `%run`,
`exec`): the first part builds `model = IrisNet()` with `nn.Softmax`, a later part trains it,
and neither imports anything. Read alone, `nn.Linear` in such a file names nothing.

A file that imports nothing of torch yet uses `torch`, `nn`, `F` or `optim` can only run
after some other code imported them, and then they are what these names conventionally
are; the file is read as if it had imported them. A file importing torch is never touched,
and a file's own imports win any of these names (`import flax.linen as nn`).
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.names import ImportTable

# The conventional names of the torch modules in tutorials and lessons.
_CONVENTIONAL = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "optim": "torch.optim"}
# Statements that may hold an import at module level (`try: import x`, `if ...: import y`).
_BLOCKS = (cst.If, cst.Try, cst.With, cst.For, cst.While)


def presume_fragment_imports(module: cst.Module, imports: ImportTable) -> None:
    """Give a file that imports nothing of torch the conventional torch aliases."""
    statements = [s for statement in module.body for s in _imports_in(statement)]
    if any(_names_torch(s) for s in statements):
        return
    # A function body may import (rare): only module-level code is looked at, so such a file
    # gets the aliases too, which is what running its module-level code would need anyway.
    # Its own imports win a name (`import flax.linen as nn`): they are read after these.
    imports.aliases.update(_CONVENTIONAL)
    imports.fragment = True


def is_fragment(imports: ImportTable) -> bool:
    """Whether the file was read as a fragment (see `presume_fragment_imports`)."""
    return getattr(imports, "fragment", False)


def _imports_in(statement: cst.CSTNode) -> list:
    """The import statements at module level in `statement` (also inside `if`/`try` blocks).
    A work list, not recursion: an `elif` chain of a thousand branches nests that deep."""
    found: list = []
    pending = [statement]
    while pending:
        current = pending.pop()
        if type(current) is cst.SimpleStatementLine:
            found.extend(s for s in current.body if type(s) in (cst.Import, cst.ImportFrom))
            continue
        if not isinstance(current, _BLOCKS):
            continue
        bodies = [current.body]
        if isinstance(current, cst.If) and current.orelse is not None:
            bodies.append(current.orelse)
        if isinstance(current, cst.Try):
            bodies.extend(h.body for h in current.handlers)
        for body in bodies:
            if isinstance(body, cst.If):
                pending.append(body)
                continue
            inner = getattr(body, "body", ())
            if isinstance(inner, (list, tuple)):
                pending.extend(reversed(inner))
    return found


def _names_torch(statement) -> bool:
    if type(statement) is cst.ImportFrom:
        module = statement.module
        while type(module) is cst.Attribute:
            module = module.value
        return type(module) is cst.Name and module.value == "torch"
    for alias in statement.names:
        head = alias.name
        while type(head) is cst.Attribute:
            head = head.value
        if type(head) is cst.Name and head.value == "torch":
            return True
    return False
