"""`auditor run` / `auditor train` without the runtime extra: one line, exit 2."""

from __future__ import annotations

import os

from tests.conftest import REPO_ROOT, run_auditor, write


def test_runtime_commands_name_the_missing_extra(project):
    blocker = project / "blocker"
    write(blocker, "sitecustomize.py", """
        import sys

        class _NotInstalled:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "sklearn", "numpy"):
                    raise ImportError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, _NotInstalled())
        """)
    write(project, "plain.py", "print('hello')\n")
    env = {"PYTHONPATH": f"{blocker}{os.pathsep}{REPO_ROOT}"}
    for args in (("train", "--task", "iris"), ("run", "plain.py")):
        proc = run_auditor(*args, cwd=project, env=env)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs the runtime extra" in lines[0], proc.stderr
        assert 'pip install "training-auditor[runtime]"' in lines[0]
