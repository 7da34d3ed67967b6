"""auditor/neighbours.py's parts: the project root, imports read from text, base directories."""

from __future__ import annotations

import os

import pytest

from auditor.neighbours import base_directory, import_targets, project_root, raw_imports


def test_statements_as_python_reads_them():
    text = ("import a.b as c, d\n"
            "from .x import (y,\n    z as w)\n"
            "x = 1; import q\n"
            "from . import m  # a comment\n"
            "    from ..up import f\n"
            "# import not_me\n"
            "name = 'from nowhere import else'\n")
    assert sorted(raw_imports(text)) == sorted([
        ("", ("a.b", "d")), (".x", ("y", "z")), ("", ("q",)), (".", ("m",)), ("..up", ("f",))])


def test_a_bare_import_carries_the_submodules_reached_through_its_name():
    text = ("import pkg\nimport lib.utils as u\n"
            "pkg.engine.evaluate(model)\nu.sub.f()\nmypkg.other.g()\n")
    imports = dict((names[0], names) for _, names in raw_imports(text))
    assert imports["pkg"] == ("pkg", "pkg.engine.evaluate")
    assert imports["lib.utils"] == ("lib.utils", "lib.utils.sub.f")  # through its alias
    assert "pkg.engine" in import_targets(raw_imports(text), "train", False)
    assert not any("other" in n for names in imports.values() for n in names)  # `mypkg.` is another name


def test_a_notebook_is_read_inside_its_json_strings():
    raw = '{"cells": [{"source": ["import torch\\n", "from utils import evaluate\\n"]}]}'
    assert ("utils", ("evaluate",)) in raw_imports(raw, notebook=True)


@pytest.mark.parametrize("module,is_package,statement,expected", [
    ("pkg.train", False, ("from .engine import evaluate"), {"pkg.engine", "pkg.engine.evaluate"}),
    ("pkg.train", False, ("from . import engine"), {"pkg", "pkg.engine"}),
    ("pkg", True, ("from .engine import evaluate"), {"pkg.engine", "pkg.engine.evaluate"}),
    ("pkg.sub.train", False, ("from ..engine import evaluate"), {"pkg.engine", "pkg.engine.evaluate"}),
    ("train", False, ("from ...too.high import x"), set()),
    ("train", False, ("import lib.utils as u"), {"lib", "lib.utils"}),
    ("train", False, ("from utils import *"), {"utils"}),
])
def test_imports_resolve_to_absolute_module_names(module, is_package, statement, expected):
    assert import_targets(raw_imports(statement), module, is_package) == expected


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.py", "setup.cfg", ".git"])
def test_the_root_is_the_nearest_directory_with_a_marker(tmp_path, marker):
    (tmp_path / "p" / "src" / "pkg").mkdir(parents=True)
    target = tmp_path / "p" / marker
    target.mkdir() if marker == ".git" else target.write_text("")
    assert project_root(str(tmp_path / "p" / "src" / "pkg" / "mod.py")) == str(tmp_path / "p")


def test_a_script_outside_any_project_is_its_own_directory(tmp_path):
    (tmp_path / "scripts").mkdir()
    # (the test directory has no marker above it; a marker in / would make this moot)
    if any(os.path.exists(os.path.join(str(d), m)) for d in tmp_path.parents
           for m in ("pyproject.toml", "setup.py", "setup.cfg", ".git")):
        pytest.skip("a project marker above the temporary directory")
    assert project_root(str(tmp_path / "scripts" / "train.py")) == str(tmp_path / "scripts")


def test_a_module_name_is_relative_to_its_base_directory(tmp_path):
    root = str(tmp_path)
    assert base_directory(os.path.join(root, "lib", "utils.py"), "lib.utils") == root
    assert base_directory(os.path.join(root, "lib", "__init__.py"), "lib") == root
    assert base_directory(os.path.join(root, "a", "model.py"), "model") == os.path.join(root, "a")
