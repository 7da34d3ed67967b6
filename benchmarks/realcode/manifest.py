"""The real-code manifest: hand-checked instances in public repositories.

One JSON Lines file per repository (`manifest/OWNER__NAME.jsonl`), one instance per line.
Only facts are recorded (where, which rule, bug or not, why); never the repositories' code.
The format is described in benchmarks/realcode/README.md; `load_manifest` enforces it, so a
malformed line stops the run with one message naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

LABELS = ("bug", "non-bug")
PARTS = ("dev", "heldout")

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_RULE = re.compile(r"^TRN[0-9]{3}$")
_SOURCE = re.compile(r"^(reading|review|fix-commit [0-9a-f]{7,40})$")
_REQUIRED = ("repo", "commit", "path", "line", "rule", "label", "reason", "source")
_OPTIONAL = ("end_line", "cell", "also")


class ManifestError(Exception):
    """A manifest line that does not follow the format (message names file and line)."""


@dataclass(frozen=True)
class Span:
    """Where a finding of the instance's rule counts: `path` lines [line, end_line] (inclusive)."""

    path: str
    line: int
    end_line: int
    cell: Optional[int] = None  # notebooks: 1-based cell number, every cell counted

    def holds(self, path: str, line: int, cell: Optional[int]) -> bool:
        return path == self.path and cell == self.cell and self.line <= line <= self.end_line


@dataclass(frozen=True)
class Instance:
    repo: str
    commit: str
    rule: str
    label: str
    reason: str
    source: str
    spans: tuple  # tuple[Span, ...]: the main span first, then the `also` ones
    origin: str  # "file.jsonl:LINE", for messages

    @property
    def span(self) -> Span:
        return self.spans[0]

    @property
    def part(self) -> str:
        return part_of(self.repo)


def part_of(repo: str) -> str:
    """The fixed held-out rule: a repository is held out when sha1 of its lower-cased
    "owner/name", read as a number, is divisible by 3. Nobody chooses or tunes it."""
    digest = hashlib.sha1(repo.lower().encode("utf-8")).hexdigest()
    return "heldout" if int(digest, 16) % 3 == 0 else "dev"


def manifest_file_name(repo: str) -> str:
    owner, name = repo.split("/", 1)
    return f"{owner}__{name}.jsonl"


def _int_field(obj: dict, key: str, where: str, minimum: int = 1) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ManifestError(f"{where}: `{key}` must be an integer >= {minimum}, got {value!r}")
    return value


def _span(obj: dict, where: str) -> Span:
    path = obj.get("path")
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        raise ManifestError(f"{where}: `path` must be a relative path inside the repository, got {path!r}")
    if "line" not in obj:
        raise ManifestError(f"{where}: missing `line`")
    line = _int_field(obj, "line", where)
    end_line = _int_field(obj, "end_line", where) if "end_line" in obj else line
    if end_line < line:
        raise ManifestError(f"{where}: `end_line` {end_line} is before `line` {line}")
    cell = _int_field(obj, "cell", where) if "cell" in obj else None
    if (cell is not None) != path.endswith(".ipynb"):
        raise ManifestError(f"{where}: `cell` is required for a notebook and only for a notebook")
    return Span(path, line, end_line, cell)


def parse_instance(obj: object, where: str) -> Instance:
    """One manifest object, checked field by field."""
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: not a JSON object")
    missing = [key for key in _REQUIRED if key not in obj]
    if missing:
        raise ManifestError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(obj) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}")
    checks = (
        ("repo", _REPO, "owner/name"),
        ("commit", _COMMIT, "40 lower-case hex digits"),
        ("rule", _RULE, "a code like TRN101"),
        ("source", _SOURCE, '"reading", "review" or "fix-commit <sha>"'),
    )
    for key, pattern, what in checks:
        if not isinstance(obj[key], str) or not pattern.match(obj[key]):
            raise ManifestError(f"{where}: `{key}` must be {what}, got {obj[key]!r}")
    if obj["label"] not in LABELS:
        raise ManifestError(f"{where}: `label` must be one of {', '.join(LABELS)}, got {obj['label']!r}")
    if not isinstance(obj["reason"], str) or not obj["reason"].strip() or "\n" in obj["reason"]:
        raise ManifestError(f"{where}: `reason` must be one non-empty line")
    spans = [_span(obj, where)]
    also = obj.get("also", [])
    if not isinstance(also, list):
        raise ManifestError(f"{where}: `also` must be a list of {{path, line, end_line}} objects")
    for extra in also:
        if not isinstance(extra, dict) or set(extra) - {"path", "line", "end_line", "cell"}:
            raise ManifestError(f"{where}: each `also` entry is an object with path, line, end_line (and cell)")
        spans.append(_span(extra, where))
    return Instance(obj["repo"], obj["commit"], obj["rule"], obj["label"], obj["reason"].strip(),
                    obj["source"], tuple(spans), where)


def load_file(path: Path) -> list:
    """The instances of one manifest file; every one must name the file's repository."""
    instances = []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{where}: not valid JSON ({exc.msg})") from None
            instance = parse_instance(obj, where)
            if manifest_file_name(instance.repo).lower() != path.name.lower():
                raise ManifestError(f"{where}: repo {instance.repo} belongs in {manifest_file_name(instance.repo)}")
            instances.append(instance)
    return instances


def load_manifest(directory: Path) -> list:
    """Every instance of every `*.jsonl` file in `directory`, in file then line order.

    The same (repo, commit, rule, span) twice is an error: it would count one bug twice."""
    if not directory.is_dir():
        raise ManifestError(f"{directory}: no such manifest directory")
    instances = []
    seen: dict = {}
    for path in sorted(directory.glob("*.jsonl")):
        for instance in load_file(path):
            key = (instance.repo.lower(), instance.commit, instance.rule, instance.span)
            if key in seen:
                raise ManifestError(f"{instance.origin}: same instance as {seen[key]}")
            seen[key] = instance.origin
            instances.append(instance)
    if not instances:
        raise ManifestError(f"{directory}: no instances (expected *.jsonl files)")
    return instances
