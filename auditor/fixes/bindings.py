"""Whether a name a fix writes (`torch.no_grad()`, `torch.amp.autocast`) is bound where it runs.

A fix that writes `torch.` needs `import torch` to have run before the fixed code does. An
import anywhere in the file is not enough: a notebook may import torch only in a later cell
(a TensorFlow notebook whose last cells compare with PyTorch), a function may import it for
itself. Only imports that certainly run first count: earlier statements of the blocks that
enclose the fixed code, up to the module.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name


def _torch_import(statement: cst.CSTNode) -> Optional[str]:
    """The name `statement` binds to the torch package (`import torch`, `import torch as th`,
    `import torch.nn` binds `torch`), also as the body of a `try:`; else None."""
    lines = statement.body.body if isinstance(statement, cst.Try) else [statement]
    for line in lines:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for small in line.body:
            if not isinstance(small, cst.Import):
                continue
            for alias in small.names:
                full = dotted_name(alias.name) or ""
                if alias.asname is None and full.split(".")[0] == "torch":
                    return "torch"
                if full == "torch" and alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    return alias.asname.name.value
    return None


def torch_bound_before(model, node: cst.CSTNode) -> Optional[str]:
    """The local name of the torch package bound by an import that runs before `node`: an
    earlier statement of a block enclosing it (its function, then the module). A class body's
    imports are skipped: its methods do not see them. None when there is no such import."""
    child = node
    for ancestor in model.ancestors(node):
        if isinstance(ancestor, (cst.Module, cst.IndentedBlock)) and \
                not isinstance(model.parent(ancestor), cst.ClassDef):
            for statement in ancestor.body:
                if statement is child:
                    break
                name = _torch_import(statement)
                if name is not None:
                    return name
        child = ancestor
    return None
