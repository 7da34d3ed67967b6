"""`auditor run` / `auditor train` without the runtime extra: one line, exit 2."""

from __future__ import annotations

from tests.conftest import blocking_imports, run_auditor, write


def test_runtime_commands_name_the_missing_extra(project):
    write(project, "plain.py", "print('hello')\n")
    env = blocking_imports(project, "torch", "sklearn", "numpy")
    for args in (("train", "--task", "iris"), ("run", "plain.py")):
        proc = run_auditor(*args, cwd=project, env=env)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs the runtime extra" in lines[0], proc.stderr
        assert 'pip install "training-auditor[runtime]"' in lines[0]
