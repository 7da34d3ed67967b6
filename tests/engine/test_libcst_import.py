"""auditor.speed.libcst_import: libcst's class code reused between runs, same classes."""

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
from auditor.speed.libcst_import import import_libcst
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


def test_a_program_using_the_engine_directly_gets_the_same_libcst():
    # Not only the command: `import auditor.engine` first imports libcst through import_libcst.
    probe = ("import auditor.engine, libcst\n"
             "from auditor.speed import node_init\n"
             "print(libcst.Name.__hash__ is object.__hash__, node_init.installed())\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_already_imported_is_left_alone():
    from auditor.speed.libcst_import import import_libcst

    importlib.import_module("libcst")  # the test process has it already

    assert import_libcst("/nonexistent/dir/x.marshal") is None


# libcst.metadata: its package code runs on the first name asked of it.
METADATA_PROBE = """
import json, sys
from auditor.speed.libcst_import import import_libcst
import_libcst(None)
loaded = sorted(m for m in sys.modules if m.startswith("libcst.metadata"))
import libcst, libcst.metadata as package
deferred = "__getattr__" in vars(package)
exec(sys.argv[1])  # the first use
import libcst.metadata.scope_provider
try:
    package.NoSuchName
    missing = None
except AttributeError as exc:
    missing = str(exc)
print(json.dumps({
    "loaded_first": loaded,
    "deferred": deferred,
    "hooks_left": sorted(set(vars(package)) & {"__getattr__", "__dir__"}),
    "same_module": package is libcst.metadata is sys.modules["libcst.metadata"],
    "scope": package.ScopeProvider is libcst.metadata.scope_provider.ScopeProvider,
    "names": sorted(vars(package)),
    "missing": missing,
    "hasattr_missing": hasattr(package, "NoSuchName"),
}))
"""
USES = {
    "from": "from libcst.metadata import PositionProvider, MetadataWrapper\n"
            "module = libcst.parse_module('x = 1\\nif x:\\n    y = 2\\n')\n"
            "found = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)\n"
            "assert found[module.body[1].body.body[0]].start.line == 3, found",
    "attribute": "assert libcst.metadata.ScopeProvider.__name__ == 'ScopeProvider'",
    "alias": "import libcst.metadata as m\nassert m.QualifiedNameProvider.__name__ == 'QualifiedNameProvider'",
    "submodule": "import libcst.metadata.scope_provider as s\nassert s.ScopeProvider.__name__ == 'ScopeProvider'",
    # This submodule imports from its package: the package's code runs while it is imported.
    "circular": "from libcst.metadata.reentrant_codegen import CodegenPartial\n"
                "import libcst.metadata as m\nassert m.CodegenPartial is CodegenPartial",
    "star": "from libcst.metadata import *\nassert ScopeProvider.__name__ == 'ScopeProvider'",
    "dir": "assert 'ScopeProvider' in dir(libcst.metadata)",
}


def _run_python(code: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ordinary_metadata_names() -> list[str]:
    return json.loads(_run_python("import json, libcst.metadata as m; print(json.dumps(sorted(vars(m))))"))


@pytest.mark.parametrize("use", sorted(USES))
def test_the_metadata_package_loads_on_first_use(use):
    run = json.loads(_run_python(METADATA_PROBE, USES[use]).splitlines()[-1])
    # libcst itself needs only these two; no provider was imported.
    assert run["loaded_first"] == ["libcst.metadata", "libcst.metadata.base_provider", "libcst.metadata.wrapper"]
    assert run["deferred"] is True
    assert run["hooks_left"] == []
    assert run["same_module"] is True and run["scope"] is True
    assert run["names"] == _ordinary_metadata_names()
    assert run["missing"] == "module 'libcst.metadata' has no attribute 'NoSuchName'"
    assert run["hasattr_missing"] is False


def _metadata_submodules() -> list[str]:
    spec = importlib.util.find_spec("libcst")
    directory = os.path.join(spec.submodule_search_locations[0], "metadata")
    return sorted(name[:-3] for name in os.listdir(directory) if name.endswith(".py") and name != "__init__.py")


SUBMODULE_PROBE = """
import importlib, sys
from auditor.speed.libcst_import import import_libcst
import_libcst(None)
name = "libcst.metadata." + sys.argv[1]
sub = importlib.import_module(name)
import libcst.metadata as package
assert package.ScopeProvider.__name__ == "ScopeProvider"
assert getattr(package, sys.argv[1]) is sub is sys.modules[name]
for public in package.__all__:
    obj = getattr(package, public)
    home = sys.modules.get(getattr(obj, "__module__", ""), None)
    assert home is None or getattr(home, public, obj) is obj, public  # one copy of each class
print("ok")
"""


@pytest.mark.parametrize("submodule", _metadata_submodules())
def test_any_metadata_submodule_may_be_imported_first(submodule):
    assert _run_python(SUBMODULE_PROBE, submodule).split() == ["ok"]


FALLBACK_PROBE = """
import importlib.util, sys
import auditor.speed.libcst_import as li

def broken():
    raise RuntimeError("a finder in trouble")

li._metadata_spec = {"raises": broken, "none": lambda: None,
                     "not_a_package": lambda: importlib.util.find_spec("json.decoder")}[sys.argv[1]]
li.import_libcst(None)
import libcst.metadata
assert "__getattr__" not in vars(libcst.metadata)
assert "libcst.metadata.scope_provider" in sys.modules  # the ordinary import
from libcst.metadata import PositionProvider
print("ok")
"""


@pytest.mark.parametrize("case", ["raises", "none", "not_a_package"])
def test_a_package_not_found_as_expected_is_imported_as_usual(case):
    assert _run_python(FALLBACK_PROBE, case).split() == ["ok"]


FAILED_IMPORT_PROBE = """
import sys
from auditor.speed.libcst_import import import_libcst

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == "libcst.metadata.wrapper":
            raise ImportError("refused")
        return None

sys.meta_path.insert(0, Refuse())
try:
    import_libcst(None)
except ImportError:
    pass
assert "libcst" not in sys.modules and "libcst.metadata" not in sys.modules
del sys.meta_path[0]
import_libcst(None)
from libcst.metadata import ScopeProvider
print("ok")
"""


def test_a_failed_libcst_import_leaves_no_package_behind():
    assert _run_python(FAILED_IMPORT_PROBE).split() == ["ok"]


# A check in a fresh process, as `auditor check` runs; reports what it imported.
CHECK_PROBE = """
import json, sys
from auditor.speed.libcst_import import import_libcst
import_libcst()  # first, as the rules catalog does
import auditor.context
from auditor.cli import main

whole_file = []
resolve_all = auditor.context.FileContext._resolve_all

def spy(self):
    whole_file.append(self.path)
    resolve_all(self)

auditor.context.FileContext._resolve_all = spy
# TRN602 (unsafe-torch-load, opt-in) is the finding these files place: select it.
sys.argv = ["auditor", "check", "--no-cache", "-j1", "--extend-select", "TRN602", "--output-format", "json",
            sys.argv[1]]
try:
    main()
except SystemExit:
    pass
print("\\n" + json.dumps({"whole_file": len(whole_file),
                         "metadata": sorted(m for m in sys.modules if m.startswith("libcst.metadata."))}))
"""


def _check(path) -> tuple[list, dict]:
    out = _run_python(CHECK_PROBE, str(path))
    report, _, last = out.rstrip("\n").rpartition("\n")
    findings = json.loads(report)["findings"]
    return [(f["code"], f["line"], f["column"], f["end_line"], f["end_column"]) for f in findings], json.loads(last)


def test_a_check_imports_the_metadata_providers_only_for_the_whole_file_positions(tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text("def add(a, b):\n    return a + b\n")
    found, run = _check(clean)
    assert found == [] and run["whole_file"] == 0
    assert run["metadata"] == ["libcst.metadata.base_provider", "libcst.metadata.wrapper"]

    one = tmp_path / "one.py"  # placed from its statement alone
    one.write_text('import torch\n\nstate = torch.load("weights.pt")\n')
    found, run = _check(one)
    assert found == [("TRN602", 3, 9, 3, 33)] and run["whole_file"] == 0
    assert "libcst.metadata.scope_provider" not in run["metadata"]

    # The same top-level statement twice: its text is not unique and no statement holds
    # it, so the whole file's positions are resolved (libcst.metadata, loaded now).
    twice = tmp_path / "twice.py"
    twice.write_text('import torch\n\nstate = torch.load("weights.pt")\nstate = torch.load("weights.pt")\n')
    found, run = _check(twice)
    assert found == [("TRN602", 3, 9, 3, 33), ("TRN602", 4, 9, 4, 33)]
    assert run["whole_file"] == 1
    assert "libcst.metadata.scope_provider" in run["metadata"]
