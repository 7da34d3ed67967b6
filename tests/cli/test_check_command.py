"""`auditor check` end to end: the real command on real files."""

from __future__ import annotations

import json

from tests.conftest import blocking_imports, check_json, run_auditor, write

SHUFFLED_VAL = """
import torch
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)
"""

SOFTMAX_CE = """
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()
probs = F.softmax(model(x), dim=1)
loss = criterion(probs, y)
"""

FORWARD_CALLED = """
import torch

model = torch.nn.Linear(4, 2)
y = model.forward(torch.zeros(1, 4))
"""

UNSAFE_LOAD = """
import torch

state = torch.load(path)
"""

CLEAN = """
import torch
from torch.utils.data import DataLoader

train_loader = DataLoader(train_ds, batch_size=32, shuffle=True)
val_loader = DataLoader(val_ds, batch_size=32)
"""


def test_findings_as_text_with_exit_status_1(project):
    write(project, "train.py", SHUFFLED_VAL)
    proc = run_auditor("check", "train.py", "--fail-on", "info", cwd=project)  # TRN203 is an info
    assert proc.returncode == 1
    first = proc.stdout.splitlines()[0]
    assert first.startswith("train.py:4:14: TRN203 [shuffled-eval-loader] ")
    assert "\033[" not in proc.stdout  # no color when stdout is not a terminal


def test_clean_file_exits_0(project):
    write(project, "train.py", CLEAN)
    proc = run_auditor("check", "train.py", cwd=project)
    assert proc.returncode == 0, proc.stdout
    assert "Found 0 findings in 1 file checked." in proc.stdout


def test_default_path_is_the_current_directory_recursively(project):
    write(project, "pkg/sub/train.py", SHUFFLED_VAL)
    write(project, ".venv/lib/bad.py", SHUFFLED_VAL)  # default exclude
    write(project, "build/bad.py", SHUFFLED_VAL)  # default exclude
    data, _ = check_json(cwd=project)
    assert [f["path"] for f in data["findings"]] == ["pkg/sub/train.py"]


def test_json_has_every_contract_field(project):
    write(project, "train.py", SOFTMAX_CE)
    data, proc = check_json("train.py", cwd=project)
    assert proc.returncode == 1
    assert set(data) >= {"version", "findings", "summary"}
    (finding,) = data["findings"]
    for key in ("code", "name", "severity", "path", "line", "column", "end_line", "end_column",
                "message", "source", "fix"):
        assert key in finding, key
    assert finding["code"] == "TRN301" and finding["name"] == "softmax-before-cross-entropy"
    assert finding["severity"] == "error" and finding["source"] == "static"
    assert (finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (6, 8, 6, 27)
    assert data["summary"]["findings"] == 1 and data["summary"]["files"] == 1


def test_syntax_error_among_good_files(project):
    write(project, "a.py", SHUFFLED_VAL)
    write(project, "broken.py", "import torch\ndef f(:\n    pass\n")
    write(project, "z.py", SOFTMAX_CE)
    data, proc = check_json(".", cwd=project)
    assert proc.returncode == 1
    codes = sorted((f["path"], f["code"]) for f in data["findings"])
    assert codes == [("a.py", "TRN203"), ("broken.py", "TRN000"), ("z.py", "TRN301")]
    syntax = next(f for f in data["findings"] if f["code"] == "TRN000")
    assert (syntax["line"], syntax["column"]) == (2, 7)
    assert syntax["name"] == "syntax-error"


def test_a_syntax_error_prints_no_warning_of_cpythons(project):
    # CPython warns about `1if` before it refuses the unclosed bracket: that is not ours to print.
    write(project, "broken.py", "import torch\ny = 1if x else 2\nf(\n")
    proc = run_auditor("check", "--no-cache", "broken.py", cwd=project)
    assert proc.returncode == 1 and "TRN000" in proc.stdout
    assert proc.stderr == ""


def test_unreadable_files_get_one_line_each_and_others_are_checked(project):
    (project / "latin.py").write_bytes(b"import torch\nname = '\xe9t\xe9'\n")
    (project / "blob.py").write_bytes(b"\x00\x01\x02binary")
    write(project, "bad.ipynb", "{ not json")
    write(project, "good.py", SHUFFLED_VAL)
    proc = run_auditor("check", ".", cwd=project)
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 3, proc.stderr
    assert any(line.startswith("latin.py: error: not valid UTF-8 (byte 0xe9 at line 2, column 9)") for line in errors)
    assert any(line.startswith("blob.py: error: binary file") for line in errors)
    assert any(line.startswith("bad.ipynb: error: not a valid notebook: invalid JSON") for line in errors)
    assert "Traceback" not in proc.stderr
    assert "good.py:4:14: TRN203" in proc.stdout
    assert "3 files could not be checked" in proc.stdout
    data, _ = check_json(".", cwd=project)
    assert data["summary"]["file_errors"] == 3 and data["summary"]["files"] == 1


def test_encoding_declared_by_a_coding_cookie_is_honoured(project):
    (project / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nimport torch\nfrom torch.utils.data import DataLoader\n"
        b"# r\xe9sum\xe9\nval_loader = DataLoader(val_ds, shuffle=True)\n")
    data, _ = check_json("latin.py", cwd=project)
    assert [f["code"] for f in data["findings"]] == ["TRN203"]


def test_missing_path_is_a_usage_error(project):
    proc = run_auditor("check", "nope.py", cwd=project)
    assert proc.returncode == 2
    assert "path does not exist: nope.py" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_select_ignore_by_code_prefix_and_name(project):
    write(project, "a.py", SHUFFLED_VAL)
    write(project, "b.py", SOFTMAX_CE)

    def codes(*args):
        data, _ = check_json(".", *args, cwd=project)
        return sorted(f["code"] for f in data["findings"])

    assert codes() == ["TRN203", "TRN301"]
    assert codes("--select", "TRN2") == ["TRN203"]
    assert codes("--select", "softmax-before-cross-entropy") == ["TRN301"]
    assert codes("--ignore", "TRN203") == ["TRN301"]
    assert codes("--select", "TRN203", "--extend-select", "TRN3") == ["TRN203", "TRN301"]
    assert codes("--select", "TRN203,TRN301", "--ignore", "shuffled-eval-loader") == ["TRN301"]
    proc = run_auditor("check", ".", "--select", "TRN77", cwd=project)
    assert proc.returncode == 2 and "unknown rule selector 'TRN77'" in proc.stderr


def test_exit_zero_and_fail_on(project):
    write(project, "a.py", SHUFFLED_VAL)  # an info (TRN203)
    assert run_auditor("check", "a.py", "--exit-zero", cwd=project).returncode == 0
    assert run_auditor("check", "a.py", "--fail-on", "error", cwd=project).returncode == 0
    assert run_auditor("check", "a.py", "--fail-on", "warning", cwd=project).returncode == 0
    assert run_auditor("check", "a.py", "--fail-on", "info", cwd=project).returncode == 1
    proc = run_auditor("check", "a.py", "--fail-on", "bogus", cwd=project)
    assert proc.returncode == 2


def test_output_file_statistics_quiet_and_show_source(project):
    write(project, "a.py", SHUFFLED_VAL)
    write(project, "b.py", SHUFFLED_VAL)
    proc = run_auditor("check", ".", "--output-format", "json", "--output", "report.json",
                       "--fail-on", "info", cwd=project)  # TRN203 is an info
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(json.loads((project / "report.json").read_text())["findings"]) == 2

    stats = run_auditor("check", ".", "--statistics", "--quiet", cwd=project).stdout.splitlines()
    assert stats[-1].split() == ["2", "TRN203", "shuffled-eval-loader"]
    assert not any(line.startswith("Found") for line in stats)

    shown = run_auditor("check", "a.py", "--show-source", cwd=project).stdout
    assert "4 | val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)" in shown
    assert "  |              ^^^^" in shown


def test_version_flags():
    from auditor.speed import speedups

    state = "on" if speedups.available() else "off"
    for args in (("--version",), ("check", "--version")):
        proc = run_auditor(*args)
        assert proc.returncode == 0 and proc.stdout.startswith("training-auditor 0.")
        assert f"(C accelerator: {state})" in proc.stdout
    proc = run_auditor("--version", env={"AUDITOR_NO_ACCELERATOR": "1"})
    assert proc.returncode == 0 and "(C accelerator: off)" in proc.stdout


def test_check_never_imports_torch(project):
    """A pre-commit environment has no torch: the check must not need it."""
    write(project, "a.py", SHUFFLED_VAL)
    proc = run_auditor("check", "a.py", "--output-format", "sarif", "--fail-on", "info", cwd=project,
                       env=blocking_imports(project, "torch", "sklearn", "numpy"))
    assert proc.returncode == 1, proc.stderr
    assert "TRN203" in proc.stdout


def test_parallel_jobs_give_the_same_output_in_the_same_order(project):
    for i in range(40):
        write(project, f"m{i:02d}.py", SHUFFLED_VAL if i % 2 else SOFTMAX_CE)
    one = run_auditor("check", ".", "--jobs", "1", "--output-format", "json", cwd=project)
    many = run_auditor("check", ".", "--jobs", "2", "--output-format", "json", cwd=project)
    assert json.loads(one.stdout)["findings"] == json.loads(many.stdout)["findings"]
    assert len(json.loads(one.stdout)["findings"]) == 40


def test_internal_errors_are_one_line(project):
    write(project, "pyproject.toml", "[tool.auditor]\nselect = 3\n")
    write(project, "a.py", SHUFFLED_VAL)
    proc = run_auditor("check", "a.py", cwd=project)
    assert proc.returncode == 2
    assert "select must be a list of strings" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2 and "Traceback" not in proc.stderr


# --- the default experience: --fail-on error, opt-in rules run only when selected ----------

def test_by_default_only_an_error_fails_the_run(project):
    write(project, "warn.py", FORWARD_CALLED)  # TRN504, a warning, and nothing else
    write(project, "info.py", SHUFFLED_VAL)  # TRN203, an info, and nothing else
    write(project, "error.py", SOFTMAX_CE)  # TRN301, an error
    warned = run_auditor("check", "--no-cache", "warn.py", cwd=project)
    assert warned.returncode == 0, warned.stdout
    assert "warn.py:4:5: TRN504 [forward-called-directly]" in warned.stdout  # reported, not failing
    assert "(0 error, 1 warning, 0 info)" in warned.stdout
    strict = run_auditor("check", "--no-cache", "--fail-on", "warning", "warn.py", cwd=project)
    assert strict.returncode == 1 and "TRN504" in strict.stdout
    informed = run_auditor("check", "--no-cache", "info.py", cwd=project)
    assert informed.returncode == 0 and "info.py:4:14: TRN203" in informed.stdout
    assert run_auditor("check", "--no-cache", "--fail-on", "warning", "info.py", cwd=project).returncode == 0
    erred = run_auditor("check", "--no-cache", "error.py", cwd=project)
    assert erred.returncode == 1 and "error.py:6:8: TRN301" in erred.stdout
    both = run_auditor("check", "--no-cache", "warn.py", "error.py", cwd=project)
    assert both.returncode == 1


def test_an_opt_in_rule_is_silent_by_default_and_runs_when_selected(project):
    write(project, "load.py", UNSAFE_LOAD)
    default = run_auditor("check", "--no-cache", "load.py", cwd=project)
    assert default.returncode == 0 and "TRN602" not in default.stdout
    assert "Found 0 findings in 1 file checked." in default.stdout
    for selection in (("--extend-select", "TRN602"), ("--select", "TRN6"), ("--select", "ALL"),
                      ("--extend-select", "unsafe-torch-load")):
        proc = run_auditor("check", "--no-cache", *selection, "load.py", cwd=project)
        assert "load.py:3:9: TRN602 [unsafe-torch-load]" in proc.stdout, selection
        assert proc.returncode == 0, selection  # a warning: reported, not failing by default
        strict = run_auditor("check", "--no-cache", *selection, "--fail-on", "warning", "load.py", cwd=project)
        assert strict.returncode == 1 and "TRN602" in strict.stdout, selection
    data, _ = check_json("--no-cache", "--select", "ALL", "load.py", cwd=project)
    assert [(f["code"], f["severity"]) for f in data["findings"]] == [("TRN602", "warning")]


def test_an_opt_in_rule_selected_in_the_configuration(project):
    write(project, "load.py", UNSAFE_LOAD)
    write(project, "pyproject.toml", '[tool.auditor]\nextend-select = ["TRN602"]\nfail-on = "warning"\n')
    proc = run_auditor("check", "--no-cache", "load.py", cwd=project)
    assert proc.returncode == 1 and "load.py:3:9: TRN602" in proc.stdout


def test_rules_marks_the_opt_in_rules(project):
    proc = run_auditor("rules", cwd=project)
    assert proc.returncode == 0, proc.stderr
    header, *lines = proc.stdout.splitlines()
    column = header.index(" default ") + 1  # the table's "default" column, by its position

    def row(code):
        (line,) = [line for line in lines if line.startswith(code + " ")]
        return line.split()[:3], line[column:].split()[0]

    assert row("TRN602") == (["TRN602", "unsafe-torch-load", "warning"], "opt-in")
    assert row("TRN101") == (["TRN101", "missing-eval-mode", "error"], "on")
    assert row("TRN203") == (["TRN203", "shuffled-eval-loader", "info"], "on")
    opt_in = {line.split()[0] for line in lines if line.startswith("TRN") and line[column:].split()[0] == "opt-in"}
    assert opt_in == {"TRN409", "TRN410", "TRN602", "TRN603"}
