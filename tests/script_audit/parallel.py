"""Run many `auditor run` subprocesses at once: each pays torch's import time, two cores share them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.conftest import REPO_ROOT, auditor_env

SCRIPTS = Path(__file__).resolve().parent / "scripts"
# Several scripts share two cores: one thread each avoids oversubscription.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    report: Optional[dict]


def run_many(jobs: dict[str, list[str]], out_dir: Path, width: int = 3, timeout: float = 240) -> dict[str, Result]:
    """jobs: name -> arguments after `auditor run` (the JSON report goes to out_dir/name.json)."""
    pending = list(jobs.items())
    running: dict[str, tuple[subprocess.Popen, float, Path]] = {}
    results: dict[str, Result] = {}
    while pending or running:
        while pending and len(running) < width:
            name, args = pending.pop(0)
            report = out_dir / f"{name}.json"
            cmd = [sys.executable, "-m", "auditor", "run", "--output-format", "json", "-o", str(report), *args]
            proc = subprocess.Popen(cmd, cwd=str(SCRIPTS), env=auditor_env(SINGLE_THREAD), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            running[name] = (proc, time.monotonic(), report)
        for name, (proc, started, report) in list(running.items()):
            if proc.poll() is None and time.monotonic() - started < timeout:
                continue
            if proc.poll() is None:
                proc.kill()
            stdout, stderr = proc.communicate()
            data = json.loads(report.read_text()) if report.exists() else None
            results[name] = Result(proc.returncode, stdout, stderr, data)
            del running[name]
        time.sleep(0.05)
    return results


def line_of(path: Path, number: int) -> str:
    return path.read_text().splitlines()[number - 1]


__all__ = ["REPO_ROOT", "SCRIPTS", "SINGLE_THREAD", "Result", "line_of", "run_many"]
