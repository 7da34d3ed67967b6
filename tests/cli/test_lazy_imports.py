"""A one-process `auditor check` leaves out the imports only other paths need (start-up cost)."""

from __future__ import annotations

import json
import subprocess
import sys

from auditor.config_search import find_config
from tests.conftest import auditor_env, write

# Needed only by several processes, a cache, a write, a baseline, a configuration file,
# a crashing rule or another subcommand.
LAZY = ["multiprocessing", "tempfile", "shutil", "hashlib", "pickle", "traceback",
        "auditor.baseline", "auditor.commands.run", "auditor.commands.train"]

# A fresh interpreter runs the CLI in-process, then reports what it imported.
PROBE = """
import json, sys
from auditor.cli import main
path, lazy = sys.argv[1], json.loads(sys.argv[2])
# TRN602 is opt-in and a warning: select it and let it fail the run, so the check has work to report.
sys.argv = ["auditor", "check", "--no-cache", "-j1", "--extend-select", "TRN602", "--fail-on", "warning", path]
code = None
try:
    main()
except SystemExit as exc:
    code = exc.code
print("\\n" + json.dumps({"exit": code, "imported": [m for m in lazy if m in sys.modules]}))
"""


def test_a_single_process_check_imports_none_of_the_lazy_modules(tmp_path):
    path = write(tmp_path, "train.py", """
        import torch

        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 4)))
        state = torch.load("weights.pt")
        """)
    lazy = LAZY + (["tomllib"] if find_config([str(path)]) is None else [])
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), json.dumps(lazy)], capture_output=True,
                          text=True, env=auditor_env(), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    *report, last = done.stdout.splitlines()
    probe = json.loads(last)
    assert probe["exit"] == 1 and "TRN602" in "\n".join(report)  # the check ran and found something
    assert probe["imported"] == []
