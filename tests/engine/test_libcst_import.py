"""auditor.libcst_import: libcst's class code reused between runs, same classes."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Each probe runs in a fresh interpreter: libcst is imported once per process.
PROBE = """
import json, sys
from auditor.libcst_import import import_libcst
compiled = import_libcst(sys.argv[1])
import libcst as cst
module = cst.parse_module("def f(x):\\n    return x + 1  # add\\n")
a, b = cst.Name("x"), cst.Name("x")
print(json.dumps({
    "compiled": compiled,
    "round_trip": module.code,
    "identity": [a == a, a == b, a != b, {a: 1}.get(b), {a: 1}[a], a in [b], a in [b, a]],
    "init_defaults": len(cst.Name("y").lpar) == 0 and cst.Name("y").value == "y",
}))
try:
    a.value = "z"
except Exception as exc:
    print(type(exc).__name__)
"""


def _probe(cache_file: str, write: bool = True) -> tuple[dict, list[str]]:
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run([sys.executable, "-c", PROBE, cache_file], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    first, *rest = done.stdout.splitlines()
    return json.loads(first), rest


def test_second_run_compiles_nothing_and_builds_the_same_classes(tmp_path):
    cache = str(tmp_path / "classes.marshal")
    cold, cold_rest = _probe(cache)
    assert cold["compiled"] > 100  # every generated method of every node class
    assert os.path.getsize(cache) > 0
    warm, warm_rest = _probe(cache)
    assert warm["compiled"] == 0
    for run, rest in ((cold, cold_rest), (warm, warm_rest)):
        assert run["round_trip"] == "def f(x):\n    return x + 1  # add\n"
        # Equality and hashing stay identity: equal-looking nodes are different keys.
        assert run["identity"] == [True, False, True, None, 1, False, True]
        assert run["init_defaults"] is True
        assert rest == ["FrozenInstanceError"]  # generated __setattr__ still guards


@pytest.mark.parametrize("content", [b"", b"not a cache at all", b"auditor-dataclass-code\n" + b"\x00" * 40])
def test_a_foreign_or_broken_cache_file_is_replaced(tmp_path, content):
    cache = tmp_path / "classes.marshal"
    cache.write_bytes(content)
    run, _ = _probe(str(cache))
    assert run["compiled"] > 100
    assert run["round_trip"].startswith("def f(x):")
    assert _probe(str(cache))[0]["compiled"] == 0


def test_nothing_is_written_when_bytecode_writing_is_off(tmp_path):
    cache = tmp_path / "classes.marshal"
    run, _ = _probe(str(cache), write=False)
    assert run["compiled"] > 100
    assert not cache.exists()


def test_an_unwritable_cache_place_only_costs_the_compile(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = str(blocker / "sub" / "classes.marshal")  # its directory cannot be created
    run, _ = _probe(cache)
    assert run["compiled"] > 100
    assert run["identity"][:3] == [True, False, True]


def test_already_imported_is_left_alone():
    from auditor.libcst_import import import_libcst

    importlib.import_module("libcst")  # the test process has it already

    assert import_libcst("/nonexistent/dir/x.marshal") is None
