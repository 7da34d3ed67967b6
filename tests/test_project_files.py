"""The project's own promises: README's commands, CI, the pre-commit hook, the packaging."""

from __future__ import annotations

import re
import sys

from tests.conftest import REPO_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", quick_start, re.S)]


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one():
    install_and_check, install_and_test = readme_commands()[:2]
    assert "pip install ." in install_and_check and "auditor check examples/" in install_and_check
    assert "constraints.txt" in install_and_test and "pytest" in install_and_test
    ci_lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    assert install_and_test in ci_lines


def test_core_dependencies_stay_torch_free_and_tests_are_pinned():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    assert "torch" not in core and "scikit" not in core
    assert any(dep.startswith("torch") for dep in project["optional-dependencies"]["runtime"])
    assert project["scripts"]["auditor"] == "auditor.__main__:main"  # the fast replay, then auditor.cli:main
    pins = (REPO_ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", pins, re.M)


def test_pre_commit_hook_definition():
    text = (REPO_ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: auditor" in text and "entry: auditor check" in text
    assert "types_or: [python, jupyter]" in text and "language: python" in text
