"""Find a repository's local git directory and write out the checkable files of one commit.

Accepted layouts under each clones directory DIR (the repository "owner/name" is looked for
as `owner+name`, case-insensitively):
  DIR/owner+name/          a clone (with .git) or a bare repository
  DIR/owner+name/repo/     what the `fetch` tool leaves under /work/.mirror (bare, or with .git)
The first of these that holds the commit is used.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from pathlib import Path
from typing import Iterable, Optional


def _git(git_dir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, **kwargs)


def _candidate_dirs(repo: str, clone_dirs: Iterable[Path]) -> Iterable[Path]:
    wanted = repo.replace("/", "+").lower()
    for base in clone_dirs:
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name.lower() != wanted or not entry.is_dir():
                continue
            for inner in (entry, entry / "repo"):
                for git_dir in (inner / ".git", inner):
                    if (git_dir / "HEAD").is_file() and (git_dir / "objects").is_dir():
                        yield git_dir


def find_git_dir(repo: str, commit: str, clone_dirs: Iterable[Path]) -> tuple:
    """(git dir holding `commit`, None) or (None, why not) for the repository `owner/name`."""
    found_any = False
    for git_dir in _candidate_dirs(repo, clone_dirs):
        found_any = True
        if _git(git_dir, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0:
            return git_dir, None
    if found_any:
        return None, f"commit {commit[:12]} not in the local copy"
    return None, "no local copy"


# What the checker reads: sources, notebooks and the files that mark or configure a project.
# Other files (data, images, weights) are left out; snapshots may lack the big ones anyway.
SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def wanted(path: str) -> bool:
    return path.endswith(SOURCE_SUFFIXES) or posixpath.basename(path) in PROJECT_FILES


def materialise(git_dir: Path, commit: str, dest: Path) -> list:
    """Write the checkable files of `commit` into `dest`; return the paths whose content the
    local copy lacks (a snapshot leaves out files of several MiB), which are not written."""
    listing = _git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit)
    if listing.returncode != 0:
        raise RuntimeError(f"git ls-tree {commit[:12]} failed: {listing.stderr.decode(errors='replace').strip()}")
    blobs = []  # (object id, path)
    for entry in listing.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, oid = meta.split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind == b"blob" and mode in (b"100644", b"100755") and wanted(path) and _inside(path):
            blobs.append((oid.decode(), path))
    missing = []
    batch = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
                           input=b"".join(oid.encode() + b"\n" for oid, _ in blobs),
                           capture_output=True)
    data, pos = batch.stdout, 0
    for oid, path in blobs:
        header_end = data.index(b"\n", pos)
        header = data[pos:header_end].split()
        pos = header_end + 1
        if len(header) < 3 or header[1] != b"blob":  # "<oid> missing"
            missing.append(path)
            continue
        size = int(header[2])
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[pos:pos + size])
        pos += size + 1  # the content, then a newline
    return missing


def _inside(name: str) -> bool:
    parts = Path(name).parts
    return not os.path.isabs(name) and ".." not in parts


def file_line_count(git_dir: Path, commit: str, path: str) -> Optional[int]:
    """Lines of `path` at `commit`, or None when the file is not in that tree."""
    proc = _git(git_dir, "cat-file", "-p", f"{commit}:{path}")
    if proc.returncode != 0:
        return None
    return len(proc.stdout.splitlines())
