"""Notebooks, `[tool.auditor]` configuration and `# noqa` through the real command."""

from __future__ import annotations

import json

from tests.conftest import check_json, run_auditor, write

SHUFFLED_VAL = """
import torch
from torch.utils.data import DataLoader

val_loader = DataLoader(val_ds, batch_size=32, shuffle=True)
"""


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for kind, text in cells
        ],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    })


NOTEBOOK = notebook(
    ("markdown", "# Training\nsome prose"),
    ("code", "%matplotlib inline\n!pip install torch\nimport torch\nfrom torch.utils.data import DataLoader"),
    ("code", "%%bash\necho not python (\n"),
    ("code", "files = !ls\nfor i in range(2):\n    %time x = i\n\ntest_dl = DataLoader(test_ds, 16, True)"),
)


def test_notebook_findings_point_at_cell_and_line(project):
    write(project, "nb.ipynb", NOTEBOOK)
    proc = run_auditor("check", "nb.ipynb", "--fail-on", "info", cwd=project)  # TRN203 is an info
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("nb.ipynb:cell 4:5:11: TRN203 [shuffled-eval-loader]")
    data, _ = check_json("nb.ipynb", cwd=project)
    (finding,) = data["findings"]
    assert (finding["cell"], finding["line"], finding["column"]) == (4, 5, 11)


def test_notebooks_are_found_in_directories_and_syntax_errors_name_the_cell(project):
    write(project, "sub/bad.ipynb", notebook(("code", "import torch\n"), ("code", "x = (1,\n")))
    data, _ = check_json(".", cwd=project)
    (finding,) = data["findings"]
    assert finding["code"] == "TRN000" and finding["path"] == "sub/bad.ipynb" and finding["cell"] == 2


def test_noqa_by_code_name_bare_and_on_the_statement_line(project):
    write(project, "a.py", """
        import torch
        from torch.utils.data import DataLoader

        v1 = DataLoader(val_ds, shuffle=True)  # noqa: TRN203
        v2 = DataLoader(val_ds, shuffle=True)  # noqa: shuffled-eval-loader, TRN301
        v3 = DataLoader(val_ds, shuffle=True)  # noqa
        v4 = DataLoader(val_ds, shuffle=True)  # noqa: TRN301
        v5 = DataLoader(  # noqa: TRN203
            val_ds,
            shuffle=True,
        )
        v6 = DataLoader(val_ds, shuffle=True)
        """)
    data, _ = check_json("a.py", cwd=project)
    assert [f["line"] for f in data["findings"]] == [7, 12]


def test_skip_file_comment(project):
    write(project, "a.py", "# auditor: skip-file\n" + SHUFFLED_VAL)
    data, proc = check_json("a.py", cwd=project)
    assert data["findings"] == [] and proc.returncode == 0


def test_config_select_per_file_ignores_exclude_and_fail_on(project):
    write(project, "pyproject.toml", """
        [tool.auditor]
        select = ["TRN2"]
        exclude = ["generated/*"]
        fail-on = "error"

        [tool.auditor.per-file-ignores]
        "scripts/*" = ["TRN203"]
        "legacy.py" = ["shuffled-eval-loader"]
        """)
    for name in ("train.py", "scripts/eval.py", "legacy.py", "generated/x.py"):
        write(project, name, SHUFFLED_VAL)
    write(project, "softmax.py", """
        import torch.nn.functional as F
        loss = F.cross_entropy(F.softmax(z, 1), y)
        """)
    data, proc = check_json(".", cwd=project)
    assert [f["path"] for f in data["findings"]] == ["train.py"]
    assert proc.returncode == 0  # fail-on = error and TRN203 is an info
    # flags override the configuration
    proc = run_auditor("check", ".", "--fail-on", "info", cwd=project)
    assert proc.returncode == 1
    data, _ = check_json(".", "--select", "TRN301", cwd=project)
    assert [f["path"] for f in data["findings"]] == ["softmax.py"]


def test_config_is_found_above_the_checked_paths(project):
    write(project, "pyproject.toml", '[tool.auditor]\nignore = ["TRN203"]\n')
    write(project, "src/deep/a.py", SHUFFLED_VAL)
    data, _ = check_json("deep/a.py", cwd=project / "src")
    assert data["findings"] == []


def test_bad_configuration_is_one_line_and_exit_2(project):
    write(project, "a.py", SHUFFLED_VAL)
    cases = {
        '[tool.auditor]\nselct = ["TRN2"]\n': "unknown key 'selct'",
        '[tool.auditor]\nfail-on = "fatal"\n': "unknown severity 'fatal'",
        '[tool.auditor]\nselect = ["TRN9999"]\n': "unknown rule selector 'TRN9999'",
        '[tool.auditor\n': "invalid TOML",
        '[tool.auditor]\nper-file-ignores = ["x"]\n': "per-file-ignores must be a table",
    }
    for text, expected in cases.items():
        (project / "pyproject.toml").write_text(text)
        proc = run_auditor("check", "a.py", cwd=project)
        assert proc.returncode == 2, text
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (text, proc.stderr)


def test_user_excludes_also_apply_to_files_named_explicitly(project):
    """pre-commit names files one by one; the project's exclude must still hold."""
    write(project, "pyproject.toml", '[tool.auditor]\nextend-exclude = ["third_party"]\n')
    write(project, "third_party/a.py", SHUFFLED_VAL)
    data, _ = check_json("third_party/a.py", cwd=project)
    assert data["findings"] == [] and data["summary"]["files"] == 0
    data, _ = check_json(".", "--extend-exclude", "*.py", cwd=project)
    assert data["summary"]["files"] == 0
