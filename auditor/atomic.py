"""Writing a file so that a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import os
from typing import Union


def write_atomically(path: str, data: Union[bytes, str]) -> None:
    """Write beside `path` and rename over it; an existing file keeps its permission bits.

    Text is written as UTF-8 exactly as given (no newline translation). OSError propagates.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    import tempfile  # ~7 ms (shutil, random...): only a run that writes pays for it

    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(temporary, mode)
        else:  # mkstemp makes 0600; a new report should be as readable as any new file
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def keep_newest(directory: str, prefix: str, suffix: str, keep: int) -> None:
    """Delete all but the `keep` most recently written files named `prefix...suffix` in
    `directory` (records that each stand for one past state: a few suffice)."""
    records = [e for e in os.scandir(directory) if e.name.startswith(prefix) and e.name.endswith(suffix)]
    records.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
    for entry in records[keep:]:
        try:
            os.remove(entry.path)
        except OSError:
            pass
