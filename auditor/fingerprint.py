"""Digests and directory listings that both a full run and the fast replay compute, with the standard library only.

The fast replay (auditor/speed/fast_replay.py) runs before click, the checker or the rules are
imported; whatever it has to recompute exactly as the full run did lives here, so that
the two cannot drift apart and so that importing it costs nothing measurable.
"""

from __future__ import annotations

import os
import sys

try:  # hashlib would first load OpenSSL (~2 ms) only to hand back this same blake2b
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

from auditor import __version__

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGES = (_HERE, os.path.join(os.path.dirname(_HERE), "rules"))


def package_stats(path: str) -> list[str]:
    """`path:size:mtime` of a module file, or of every .py file of a package (its helpers too)."""
    if os.path.basename(path) != "__init__.py":
        return _stat(path)
    directory = os.path.dirname(path)
    out = []
    try:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                out.extend(_stat(entry.path))
            elif entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                out.extend(package_stats(os.path.join(entry.path, "__init__.py")))
    except OSError:
        out.append(path)
    return out


def _stat(path: str) -> list[str]:
    try:
        stat = os.stat(path)
    except OSError:
        return [path]
    return [f"{path}:{stat.st_size}:{stat.st_mtime_ns}"]


def tool_digest(tag: str) -> str:
    """Version, Python, and size+mtime of every source file of `auditor` and `rules`.

    `tag` names the record the digest keys (and its format), so that two kinds of record
    never share a key.
    """
    parts = [__version__, tag, sys.version]
    for package in _PACKAGES:
        parts.extend(package_stats(os.path.join(package, "__init__.py")))
    return blake2b("\n".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def content_key(header: bytes, files: list[str]) -> str | None:
    """The run key: `header` (everything but the files) then every file's name and bytes.

    None when a file cannot be read (the real run reports it).
    """
    hasher = blake2b(digest_size=20)
    hasher.update(header)
    for path in files:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        hasher.update(f"\0{path}\0{len(data)}\0".encode("utf-8", "surrogatepass"))
        hasher.update(data)
    return hasher.hexdigest()


def listed_name(entry: os.DirEntry[str], suffixes: tuple[str, ...]) -> str | None:
    """How discovery counts a directory entry: `name/` for a directory (walked), `name`
    for a file it checks, None for anything else or an entry it cannot examine.

    Discovery (auditor/files.py) and the fast replay, which proves a listing unchanged,
    must count alike: both call this.
    """
    name = entry.name
    try:
        if entry.is_dir(follow_symlinks=False):
            return name + "/"
        if name.endswith(suffixes) and entry.is_file():
            return name
    except OSError:
        pass
    return None
