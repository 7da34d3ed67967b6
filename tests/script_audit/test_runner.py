"""`auditor run` as a runner: argv, cwd, sys.path, -m, exit codes, failures, output formats, numbers."""

from __future__ import annotations

import json
import os
import sys

import pytest

pytest.importorskip("torch", reason="auditor run needs torch (the runtime extra)")

from tests.conftest import REPO_ROOT, run_auditor, write
from tests.script_audit.parallel import SCRIPTS, SINGLE_THREAD

SHOW_ENV = """
    import os, sys
    print("name", __name__)
    print("argv", sys.argv)
    print("cwd", os.getcwd())
    print("path0", sys.path[0])
"""


def test_script_runs_like_python(project):
    sub = project / "sub"
    script = write(sub, "show.py", SHOW_ENV)
    proc = run_auditor("run", str(script), "--", "--lr", "3", "x", cwd=project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "name __main__"
    assert lines[1] == f"argv {[str(script), '--lr', '3', 'x']}"
    assert lines[2] == f"cwd {project}"
    assert lines[3] == f"path0 {sub}"
    assert proc.stderr.strip().endswith("Found 0 findings in 1 file checked.")


def test_a_script_without_torch_does_not_get_torch_imported(project):
    """Like python itself: the audit's hooks wait until the script imports torch."""
    write(project, "plain.py", """
        import sys
        print("torch loaded:", "torch" in sys.modules)
        """)
    proc = run_auditor("run", "plain.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "torch loaded: False"


def test_options_after_the_script_belong_to_the_script(project):
    write(project, "show.py", SHOW_ENV)
    proc = run_auditor("run", "show.py", "--output-format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "argv ['show.py', '--output-format', 'json']" in proc.stdout


def test_module_mode(project):
    write(project, "pkg/__init__.py", "")
    write(project, "pkg/train.py", SHOW_ENV)
    proc = run_auditor("run", "-m", "pkg.train", "a", "b", cwd=project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "name __main__"
    assert lines[1] == f"argv {[str(project / 'pkg' / 'train.py'), 'a', 'b']}"
    assert lines[3] == f"path0 {project}"


def test_exit_status_passes_through(project):
    write(project, "exits.py", "import sys\nprint('bye')\nsys.exit(3)\n")
    proc = run_auditor("run", "exits.py", cwd=project)
    assert proc.returncode == 3
    assert proc.stdout == "bye\n"
    write(project, "message.py", "import sys\nsys.exit('stopped early')\n")
    proc = run_auditor("run", "message.py", cwd=project)
    assert proc.returncode == 1
    assert "stopped early" in proc.stderr


def test_missing_script_is_one_line(project):
    proc = run_auditor("run", "nope.py", cwd=project)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["auditor run: error: cannot run 'nope.py': no such file"]
    proc = run_auditor("run", "-m", "no_such_module_here", cwd=project)
    assert proc.returncode == 2
    assert "no module named 'no_such_module_here'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_syntax_error_is_reported_like_python(project):
    write(project, "broken.py", "print('never')\ndef f(:\n    pass\n")
    proc = run_auditor("run", "broken.py", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert 'File "broken.py", line 2' in proc.stderr
    assert "SyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr  # Python prints none for a script that does not compile
    assert "auditor run: broken.py has a syntax error: it did not run" in proc.stderr


RAISES = """
    import torch
    from torch import nn

    def train(steps):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        for step in range(steps):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        print("trained", steps)
        {failure}

    train(4)
"""


def test_script_that_raises_keeps_its_traceback_and_findings(project):
    write(project, "raises.py", RAISES.replace("{failure}", "raise ValueError('boom')"))
    proc = run_auditor("run", "raises.py", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout == "trained 4\n"
    err = proc.stderr
    assert err.startswith("Traceback (most recent call last):\n")
    assert 'File "raises.py", line 17, in <module>\n    train(4)\n' in err
    assert "raise ValueError('boom')" in err
    assert "ValueError: boom" in err
    # Our frames and runpy's are not part of the script's traceback.
    assert "runpy" not in err and "script_audit" not in err
    assert "auditor run: raises.py raised ValueError (exit status 1); findings gathered until then below" in err
    assert "TRN301" in err


def test_interrupted_script_still_reports(project):
    write(project, "interrupted.py", RAISES.replace("{failure}", "raise KeyboardInterrupt"))
    proc = run_auditor("run", "interrupted.py", cwd=project)
    assert proc.returncode == 130
    assert "KeyboardInterrupt" in proc.stderr
    assert "interrupted.py was interrupted" in proc.stderr
    assert "TRN301" in proc.stderr


def test_output_formats_and_file(project):
    script = write(project, "raises.py", RAISES.replace("{failure}", "pass"))
    loss_line = 1 + script.read_text().splitlines().index("        loss = nn.functional.cross_entropy(model(x), y)")
    for fmt in ("json", "sarif", "github"):
        out = project / f"report.{fmt}"
        proc = run_auditor("run", "--output-format", fmt, "-o", str(out), "raises.py", cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "trained 4\n"
        assert "TRN301" not in proc.stderr  # the report went to the file
        text = out.read_text()
        if fmt == "json":
            data = json.loads(text)
            (f,) = data["findings"]
            assert (f["code"], f["name"], f["path"], f["line"], f["source"]) == (
                "TRN301", "softmax-before-cross-entropy", "raises.py", loss_line, "runtime")
            assert data["summary"]["findings"] == 1
        elif fmt == "sarif":
            result = json.loads(text)["runs"][0]["results"][0]
            assert result["ruleId"] == "TRN301"
            assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == loss_line
        else:
            assert text.startswith(f"::error file=raises.py,line={loss_line}")


def test_fail_on(project):
    # (Without --fail-on the same script exits 0: see test_output_formats_and_file.)
    write(project, "raises.py", RAISES.replace("{failure}", "pass"))
    assert run_auditor("run", "--fail-on", "error", "raises.py", cwd=project).returncode == 1


def test_numbers_unchanged():
    """Same seed, same printed numbers with and without the audit (CPU)."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **SINGLE_THREAD)
    script = "numbers_script.py"
    plain = subprocess.run([sys.executable, script], cwd=SCRIPTS, env=env, capture_output=True, text=True)
    audited = run_auditor("run", script, cwd=SCRIPTS, env=SINGLE_THREAD)
    assert plain.returncode == 0 and audited.returncode == 0, (plain.stderr, audited.stderr)
    assert "checksum" in plain.stdout
    assert audited.stdout == plain.stdout
