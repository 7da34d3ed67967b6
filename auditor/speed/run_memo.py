"""The whole-run memo: the same command on an unchanged tree prints the same report
without importing libcst or the rules.

The per-file cache (auditor/cache.py) already spares a warm run every parse; what a
warm run then spends is mostly start-up: importing libcst and the rule modules costs
more than checking 100 cached files. So before any of that is imported, the command
computes one key over everything its output depends on (the tool's own source files,
the options, the configuration, the working directory, and the digest of every file
it would check) and, when a run with that key is recorded, replays its output and exit
status. Any change to any of those misses, and the normal (cached) path runs.

auditor/speed/fast_replay.py goes one step further on the same key: it replays before click
and this module are imported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

from auditor.atomic import keep_newest, write_atomically
from auditor.fingerprint import tool_digest as tool_source_digest

FORMAT = 1
_PREFIX, _SUFFIX = f"run-v{FORMAT}-", ".pickle"
_KEEP = 8  # each key is one exact tree state: a few suffice


@dataclass
class RecordedRun:
    stdout: str
    stderr: list[str] = field(default_factory=list)
    exit_code: int = 0


def tool_digest() -> str:
    """Version, Python, and size+mtime of every source file of `auditor` and `rules`."""
    return tool_source_digest(f"run-memo {FORMAT}")


def run_header(options: dict, config_path: Optional[str], config_values: dict) -> bytes:
    """Everything the key covers besides the checked files' bytes.

    The key is `auditor.fingerprint.content_key(header, files)`, which the fast replay
    (auditor/speed/fast_replay.py) recomputes from the header it kept.
    """
    header = {"tool": tool_digest(), "options": options, "config": [config_path, config_values], "cwd": os.getcwd()}
    return json.dumps(header, sort_keys=True, default=repr).encode()


def _memo_file(directory: str, key: str) -> str:
    return os.path.join(directory, f"{_PREFIX}{key[:32]}{_SUFFIX}")


def load(directory: str, key: str) -> Optional[RecordedRun]:
    import pickle  # here and in store: a --no-cache run imports this module for RecordedRun alone

    try:
        with open(_memo_file(directory, key), "rb") as handle:
            recorded = pickle.load(handle)
    except Exception:  # missing, truncated, from another Python: just run
        return None
    return recorded if isinstance(recorded, RecordedRun) else None


def store(directory: str, key: str, recorded: RecordedRun) -> None:
    """Record this run, keeping only the latest few (each key is one exact tree state)."""
    if not os.path.isdir(directory):
        return  # the per-file cache creates (and tags) the directory; never create it here
    import pickle

    try:
        write_atomically(_memo_file(directory, key), pickle.dumps(recorded, protocol=pickle.HIGHEST_PROTOCOL))
        keep_newest(directory, _PREFIX, _SUFFIX, _KEEP)
    except OSError:
        pass  # a read-only tree costs speed, never the check
