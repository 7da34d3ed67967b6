"""Bindings that are alternatives of one choice: `if args.model == 'cnn': net = CNN()
elif args.model == 'mlp': net = MLP()`. Only one of them runs; which one depends on the
configuration, so a property of one branch (an MLP ending in `nn.Softmax`) holds on the
path that chose it, whatever the other branches build.
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.model import FileModel


def _branch_path(model: FileModel, node: cst.CSTNode) -> dict:
    """{id(If): "body" | "orelse"} for every `if` above `node` (an `elif` is an `If` inside
    its parent's `orelse`)."""
    path: dict = {}
    child = node
    for ancestor in model.ancestors(node):
        if type(ancestor) is cst.If:
            if child is ancestor.body:
                path[id(ancestor)] = "body"
            elif child is ancestor.orelse:
                path[id(ancestor)] = "orelse"
        child = ancestor
    return path


def exclusive(model: FileModel, statements: list) -> bool:
    """True when no two of `statements` can run on one pass: each pair sits in different
    branches (the body and the else/elif part) of one `if`."""
    paths = [_branch_path(model, s) for s in statements]
    for i, first in enumerate(paths):
        for second in paths[i + 1:]:
            if not any(key in second and second[key] != side for key, side in first.items()):
                return False
    return True
