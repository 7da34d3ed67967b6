"""auditor.speed.node_init: libcst's node constructors, cheaper, same meaning."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys
import types

import pytest

from auditor.speed import node_init

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# In a fresh interpreter, where auditor imports libcst and installs the constructors.
PROBE = r'''
import inspect, json, sys
from auditor.speed.libcst_import import import_libcst, node_classes
import_libcst(None)
import libcst as cst
from auditor.speed import node_init, parsing

replaced = [c for c in node_classes() if hasattr(c.__dict__.get("__init__"), "__wrapped__")]
mismatched = []
for cls in replaced:
    new, old = cls.__init__, cls.__init__.__wrapped__
    new_params = list(inspect.signature(new, follow_wrapped=False).parameters.values())
    old_params = list(inspect.signature(old).parameters.values())
    if [(p.name, p.kind) for p in new_params] != [(p.name, p.kind) for p in old_params]:
        mismatched.append(cls.__name__)
    for n, o in zip(new_params, old_params):
        default_differs = n.default is not o.default
        # dataclasses marks a default factory with its own sentinel; so do we (MISSING).
        if default_differs and not (o.default is not inspect.Parameter.empty and type(o.default).__name__ == "_HAS_DEFAULT_FACTORY_CLASS"):
            mismatched.append(f"{cls.__name__}.{n.name}")

errors = []
for make in (lambda: cst.Name("1x"), lambda: cst.Integer("x")):
    try:
        make()
    except cst.CSTValidationError:
        errors.append("validated")
with node_init.paused_validation():
    unchecked = cst.Name("1x").value

source = open(sys.argv[1], encoding="utf-8").read()
ours = parsing.parse_module(source)
for cls in replaced:  # back to the constructors dataclasses wrote
    cls.__init__ = cls.__init__.__wrapped__
theirs = cst.parse_module(source)
print(json.dumps({
    "replaced": len(replaced), "mismatched": mismatched, "errors": errors,
    "unchecked": unchecked, "same_tree": ours.deep_equals(theirs), "round_trip": ours.code == source,
    "signature": str(inspect.signature(cst.Name)),
}))
'''


SAMPLE = '''"""Most node kinds: decorators, comprehensions, f-strings, lambdas, with/try, match."""
from __future__ import annotations
import torch, torch.nn as nn
from torch.utils.data import DataLoader as DL


@torch.no_grad()
def evaluate(model: nn.Module, loader: DL, *, device="cpu", **kw) -> dict[str, float]:
    model.eval()
    total = correct = 0
    for x, y in loader:
        out = model(x.to(device, non_blocking=True))
        correct += (out.argmax(-1) == y).sum().item(); total += len(y)
    return {"acc": correct / max(total, 1), **{k: v for k, v in kw.items() if v is not None}}


class Net(nn.Module):
    scale: float = 2.0 ** -1

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims, dims[1:])])

    async def stream(self, x):
        async for y in x:
            yield await y

    def forward(self, x, /, mask=None):
        global _SEEN
        with torch.autocast("cpu"), open("log") as fh:
            x = [y for y in self.layers(x)] if mask is None else ~mask & x
        try:
            del fh[0:2:1]
        except (KeyError, IndexError) as exc:
            raise RuntimeError(f"{exc!r:>10} at {x=}") from exc
        finally:
            pass
        match x:
            case [a, *rest] if (n := len(rest)) > 1:
                return lambda q=n: a @ q
            case {"k": v, **other}:
                yield from other
            case Net(scale=1.0) | None:
                assert not x, "empty"
        while x: x -= 1; break
        else: x = ...
        return (yield)


loss = nn.CrossEntropyLoss(label_smoothing=0.1 if True else 0.0)
print(*sorted({1, 2}), sep="\\n", end=b"".decode())
type_alias: "list[int]" = [i for i in range(3) if i % 2 for _ in ()]
'''


def test_node_constructors_keep_parameters_validation_and_trees(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", PROBE, str(sample)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["replaced"] > 150  # nearly every concrete node class
    assert result["mismatched"] == []
    assert result["errors"] == ["validated", "validated"]  # outside the pause: as libcst
    assert result["unchecked"] == "1x"
    assert result["same_tree"] is True and result["round_trip"] is True
    assert result["signature"].startswith("(value: str, lpar: Sequence")  # annotations via __wrapped__


# dataclass(slots=True) is Python 3.10's: on 3.9 the classes are plain and their test skips.
_SLOTS = {"slots": True} if sys.version_info >= (3, 10) else {}


@dataclasses.dataclass(frozen=True)
class _Base:
    def __post_init__(self) -> None:
        self.__class__.validated.append(self)


@dataclasses.dataclass(frozen=True, **_SLOTS)
class _Slotted(_Base):
    validated = []
    a: int
    b: list = dataclasses.field(default_factory=list)
    c: str = "c"


@dataclasses.dataclass(frozen=True)
class _NoSlots(_Base):
    validated = []
    a: int = 0


@dataclasses.dataclass(frozen=True, **_SLOTS)
class _NotInInit(_Base):
    validated = []
    a: int = dataclasses.field(default=0, init=False)


@pytest.mark.skipif(not _SLOTS, reason="dataclass(slots=True) needs Python 3.10")
def test_install_replaces_only_plain_slotted_init_fields():
    classes = [_Slotted, _NoSlots, _NotInInit]
    originals = {cls: cls.__dict__["__init__"] for cls in classes}
    was_installed = node_init.installed()
    compiled = []

    def compile_source(text: str) -> types.CodeType:
        compiled.append(text)
        return compile(text, "<string>", "exec", dont_inherit=True)

    try:
        assert node_init.install(classes, compile_source) == 1
        assert _Slotted.__init__.__wrapped__ is originals[_Slotted]
        assert _NoSlots.__init__ is originals[_NoSlots] and _NotInInit.__init__ is originals[_NotInInit]
        assert len(compiled) == 1

        one, two = _Slotted(1), _Slotted(2, c="x")
        assert (one.a, one.b, one.c, two.a, two.c) == (1, [], "c", 2, "x")
        assert one.b is not two.b  # a fresh default per call, as dataclasses makes it
        assert _Slotted.validated == [one, two]
        with node_init.paused_validation():
            _Slotted(3)
        assert len(_Slotted.validated) == 2
        _Slotted(4)
        assert len(_Slotted.validated) == 3  # the pause ends with the block
        with pytest.raises(dataclasses.FrozenInstanceError):
            one.a = 5
        with pytest.raises(TypeError):
            _Slotted()  # `a` is still required
        assert str(inspect.signature(_Slotted)) == "(a: 'int', b: 'list' = <factory>, c: 'str' = 'c') -> None"
    finally:
        for cls, init in originals.items():
            cls.__init__ = init
        node_init._installed = was_installed
