"""auditor.speed.generated_code: the code dataclasses generates, compiled once, kept per module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A fresh interpreter per run: a module's classes are made once per process.
PROBE = """
import dataclasses, importlib, json, sys
from auditor.speed.generated_code import CodeCache, generated_code_cached

cache = CodeCache(sys.argv[1])
with generated_code_cached(cache):
    modules = [importlib.import_module(name) for name in sys.argv[2:]]
    inside = "exec" in vars(dataclasses)
point = modules[0].Point(1, 2)
print(json.dumps({
    "compiled": cache.compiled,
    "hook_left": "exec" in vars(dataclasses),
    "hook_inside": inside,
    "repr": repr(point),
    "eq": [point == modules[0].Point(1, 2), point == modules[0].Point(2, 1)],
    "frozen": dataclasses.is_dataclass(point) and type(point).__dataclass_params__.frozen,
}))
"""

POINT = """
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: list = field(default_factory=list)
"""


def _write(directory, name: str, text: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")


def _probe(tmp_path, *modules: str, write: bool = True) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, str(tmp_path)]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "code.marshal"), *modules],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_second_run_compiles_nothing_and_makes_the_same_classes(tmp_path):
    _write(tmp_path, "geometry", POINT)
    cold = _probe(tmp_path, "geometry")
    warm = _probe(tmp_path, "geometry")
    # __init__, __repr__, __eq__, ... each compiled apart; from 3.13 dataclasses compiles them in one go
    assert cold["compiled"] >= (1 if sys.version_info >= (3, 13) else 3) and warm["compiled"] == 0
    for run in (cold, warm):
        assert run["repr"] == "Point(x=1, y=2, tags=[])"
        assert run["eq"] == [True, False] and run["frozen"] is True
        assert run["hook_inside"] is True and run["hook_left"] is False


def test_each_module_keeps_its_own_code_across_runs_that_import_others(tmp_path):
    _write(tmp_path, "geometry", POINT)
    _write(tmp_path, "shapes", POINT.replace("tags", "marks"))
    assert _probe(tmp_path, "geometry")["compiled"] > 0
    assert _probe(tmp_path, "shapes")["compiled"] > 0  # rewrites the file...
    assert _probe(tmp_path, "geometry")["compiled"] == 0  # ...keeping geometry's code
    assert _probe(tmp_path, "geometry", "shapes")["compiled"] == 0


def test_an_edited_class_compiles_its_new_methods_and_drops_the_old(tmp_path):
    _write(tmp_path, "geometry", POINT)
    _probe(tmp_path, "geometry")
    size = os.path.getsize(tmp_path / "code.marshal")
    _write(tmp_path, "geometry", POINT.replace("tags", "labels"))
    edited = _probe(tmp_path, "geometry")
    assert edited["compiled"] > 0 and edited["repr"] == "Point(x=1, y=2, labels=[])"
    assert _probe(tmp_path, "geometry")["compiled"] == 0
    # The module's code is what its classes use now: the old texts are gone, not kept too.
    assert os.path.getsize(tmp_path / "code.marshal") < 1.5 * size


def test_nothing_is_written_when_bytecode_writing_is_off(tmp_path):
    _write(tmp_path, "geometry", POINT)
    run = _probe(tmp_path, "geometry", write=False)
    assert run["compiled"] > 0 and not (tmp_path / "code.marshal").exists()


def test_a_foreign_or_broken_file_is_replaced(tmp_path):
    _write(tmp_path, "geometry", POINT)
    for content in (b"", b"garbage", b"auditor-generated-code-2\n\x00\x01"):
        (tmp_path / "code.marshal").write_bytes(content)
        assert _probe(tmp_path, "geometry")["compiled"] > 0
        assert _probe(tmp_path, "geometry")["compiled"] == 0


def test_blocks_nest_and_leave_someone_elses_hook_alone(tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    from auditor.speed.generated_code import CodeCache, generated_code_cached

    outer, inner = CodeCache(str(tmp_path / "outer.marshal")), CodeCache(str(tmp_path / "inner.marshal"))
    with generated_code_cached(outer):
        outer_hook = dataclasses.exec
        with generated_code_cached(inner):
            assert dataclasses.exec is not outer_hook and dataclasses.exec.code_cache is inner
            dataclasses.make_dataclass("Inner", [("a", int)])
        assert dataclasses.exec is outer_hook
        with generated_code_cached(outer):
            assert dataclasses.exec is outer_hook  # the same cache further out: nothing to do
    assert "exec" not in vars(dataclasses)
    assert inner.compiled > 0 and (tmp_path / "inner.marshal").exists()

    def theirs(source, globals=None, locals=None):
        return exec(source, globals, locals)

    dataclasses.exec = theirs
    try:
        with generated_code_cached(CodeCache(str(tmp_path / "mine.marshal"))):
            assert dataclasses.exec is theirs
            dataclasses.make_dataclass("Theirs", [("a", int)])
    finally:
        del dataclasses.exec
    assert not (tmp_path / "mine.marshal").exists()
