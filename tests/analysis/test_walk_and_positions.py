"""The model's direct walk and the statement-local positions agree with libcst's own machinery."""

from __future__ import annotations

import random
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from auditor.analysis import model as model_module
from auditor.context import FileContext
from auditor.files import source_from_bytes

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "examples").rglob("*.py"))[:12] + sorted((REPO / "auditor" / "analysis").glob("*.py"))

TRICKY = '''\
import torch  # header comment


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x); loss = out.sum()
    if loss:
        pass
    else:
        model.train()
    return [a for a in (1, 2)] + {"k": (lambda z: z)(3)}["k"]


class Net(torch.nn.Module):
    def forward(self, x):
        model.eval()
        return x


def twice():
    model.eval()
    model.eval()
'''


class _Order(cst.CSTVisitor):
    """libcst's visiting order of the nodes outside token and whitespace subtrees."""

    def __init__(self, module: cst.Module) -> None:
        self.module, self.inside, self.nodes = module, [], []

    def on_visit(self, node: cst.CSTNode) -> bool:
        skipped = type(node) in model_module._SKIP or bool(self.inside and self.inside[-1])
        self.inside.append(skipped)
        if not skipped and node is not self.module:
            self.nodes.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.inside.pop()


def _texts():
    yield "tricky.py", TRICKY
    yield "tricky_crlf.py", TRICKY.replace("\n", "\r\n")
    for path in SOURCES:
        yield path.name, path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name,text", list(_texts()), ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_walk_matches_libcst_visitor_and_positions_match_position_provider(name, text):
    module = cst.parse_module(text)
    model = model_module.FileModel(module=module)
    model_module._Builder(model).build(module)
    order = _Order(module)
    module.visit(order)
    assert [id(n) for n in model.parents] == [id(n) for n in order.nodes]

    source = source_from_bytes(name, text.encode("utf-8"))
    full = FileContext(source, module)
    full._model = model
    full._resolve_all()
    nodes = list(model.parents)
    for node in random.Random(7).sample(nodes, min(60, len(nodes))):
        local = FileContext(source, module)
        local._model = model
        assert local.position(node) == full.position(node)
        assert local._statement_line(node) == full._statement_line(node)


def test_positions_of_repeated_statements_widen_to_a_unique_one():
    module = cst.parse_module(TRICKY)
    source = source_from_bytes("tricky.py", TRICKY.encode("utf-8"))
    ctx = FileContext(source, module)
    twice = module.body[-1]
    second = twice.body.body[1]  # `model.eval()` twice in a row: its own text is not unique
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)[second]
    assert ctx.position(second) == expected
    assert ctx._positions is None  # placed without resolving the whole file
