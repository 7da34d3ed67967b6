"""Shared test helpers: run the real `auditor` command as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def auditor_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NO_COLOR", None)
    env.pop("AUDITOR_DEBUG", None)
    if extra:
        env.update(extra)
    return env


def run_auditor(*args: str, cwd: str | os.PathLike | None = None, input: str | None = None,
                env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m auditor ARGS` with this checkout first on the path; text output captured."""
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        cwd=str(cwd) if cwd else None, input=input, capture_output=True, text=True,
        env=auditor_env(env), timeout=timeout,
    )


def check_json(*args: str, cwd=None) -> tuple[dict, subprocess.CompletedProcess]:
    """Run `auditor check --output-format json ARGS` and parse its stdout."""
    proc = run_auditor("check", "--output-format", "json", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout), proc


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def blocking_imports(project: Path, *names: str) -> dict:
    """Environment additions under which importing any of `names` (or their submodules)
    fails, to prove a command never got as far as needing them."""
    blocker = project.parent / f"{project.name}-blocker"
    write(blocker, "sitecustomize.py", f"""
        import sys

        BLOCKED = {names!r}

        class _Blocked:
            def find_spec(self, name, path=None, target=None):
                if name in BLOCKED or name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is blocked in this test")
                return None

        sys.meta_path.insert(0, _Blocked())
        """)
    return {"PYTHONPATH": f"{blocker}{os.pathsep}{REPO_ROOT}"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty directory to build a small project in."""
    return tmp_path
