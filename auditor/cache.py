"""The results cache: `.auditor_cache/` in the project root.

One file per (tool build, settings) holds, for each checked path, what the last run
learned about it: the content digest, the phase-1 summary (so a warm run parses
nothing), and the findings together with the key they were computed under. The key
folds in the digests of the summaries the file depends on, so a file is re-checked
when a helper it imports changes, even though its own text did not.

Safe when two runs write at once: each writes a private temporary file and renames
it over the old one (atomic on POSIX and Windows); the last writer wins, and the
worst a race costs is a few entries that the next run recomputes. A cache file that
cannot be read (truncated, from another Python, garbage) is treated as empty.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any, Iterable, Optional

from auditor import __version__
from auditor.findings import FileError, Finding
from auditor.fingerprint import blake2b, package_stats

CACHE_DIR_NAME = ".auditor_cache"
# Bump when the entry layout changes: old cache files are then simply never read.
FORMAT = 1
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# training-auditor cache (https://bford.info/cachedir/)\n"


def digest_bytes(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


@dataclass
class Entry:
    """What one run learned about one file (keyed by its absolute path)."""

    digest: str  # of the file's bytes
    summary: Any = None  # phase-1 summary (None: nothing other files need)
    summary_digest: str = "-"
    result_key: Optional[str] = None  # findings below are valid for this key only
    findings: list[Finding] = field(default_factory=list)
    error: Optional[str] = None
    checked: bool = True
    # Whether the findings carry their fixes: entries from a run that showed none serve
    # only runs that show none (a JSON run recomputes them).
    fixes: bool = True


class Cache:
    """Entries for one tool build and one set of settings, loaded once, saved once."""

    def __init__(self, directory: str, settings: str) -> None:
        self.directory = directory
        self.file = os.path.join(directory, f"v{FORMAT}-{settings}.pickle")
        self.entries: dict[str, Entry] = {}
        self._dirty: dict[str, Entry] = {}
        self._load()

    def _load(self) -> None:
        import pickle  # here and in save: a --no-cache run imports this module but never pickles

        try:
            with open(self.file, "rb") as handle:
                entries = pickle.load(handle)
        except Exception:  # missing, truncated, or written by another Python: start empty
            return
        if isinstance(entries, dict):
            self.entries = entries

    def get(self, path: str) -> Optional[Entry]:
        return self.entries.get(os.path.abspath(path))

    def put(self, path: str, entry: Entry) -> None:
        key = os.path.abspath(path)
        self.entries[key] = entry
        self._dirty[key] = entry

    def save(self) -> None:
        """Merge with what another run may have written meanwhile, then replace atomically."""
        if not self._dirty:
            return
        import pickle
        import tempfile

        try:
            _make_cache_dir(self.directory)
            # What we loaded, then what another run wrote since (newer), then ours.
            merged: dict[str, Entry] = dict(self.entries)
            try:
                with open(self.file, "rb") as handle:
                    on_disk = pickle.load(handle)
                if isinstance(on_disk, dict):
                    merged.update(on_disk)
            except Exception:
                pass
            merged.update(self._dirty)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)
            try:
                with os.fdopen(handle, "wb") as out:
                    pickle.dump(merged, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, self.file)
            except BaseException:
                _remove_quietly(temporary)
                raise
            self._dirty.clear()
        except OSError:
            pass  # a read-only tree or a full disk costs speed, never the check


def _make_cache_dir(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    # Keep the cache out of version control and out of backups, as ruff and pytest do.
    for name, text in ((".gitignore", "# created by training-auditor\n*\n"), ("CACHEDIR.TAG", _TAG)):
        marker = os.path.join(directory, name)
        if not os.path.exists(marker):
            try:
                with open(marker, "w", encoding="utf-8") as out:
                    out.write(text)
            except OSError:
                pass


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def cache_directory(root: str, configured: Optional[str]) -> str:
    """`cache-dir` from the configuration (relative to its root), else `<root>/.auditor_cache`."""
    if configured:
        return configured if os.path.isabs(configured) else os.path.join(root, configured)
    return os.path.join(root, CACHE_DIR_NAME)


def is_cache_directory(directory: str) -> bool:
    """Only a directory that we created is ever deleted by `auditor clean`."""
    return os.path.isfile(os.path.join(directory, "CACHEDIR.TAG")) and _tagged_by_us(directory)


def _tagged_by_us(directory: str) -> bool:
    try:
        with open(os.path.join(directory, "CACHEDIR.TAG"), encoding="utf-8") as handle:
            return "training-auditor" in handle.read()
    except OSError:
        return False


def clean(directory: str) -> bool:
    """Remove the cache directory; False if there was none (or it is not ours)."""
    if not os.path.isdir(directory) or not is_cache_directory(directory):
        return False
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    return True


def tool_fingerprint(modules: Iterable[str]) -> str:
    """The version plus the size and mtime of every source file of the tool and its rules.

    The version alone would keep stale results while rules are being developed (or a
    plugin is edited); a stat per module costs well under a millisecond.
    """
    parts = [__version__, str(FORMAT), sys.version.split()[0]]
    seen = set()
    for name in sorted(set(modules)):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if not path or path in seen:
            continue
        seen.add(path)
        parts.extend(package_stats(path))
    return digest_bytes("\n".join(parts).encode())


def settings_key(tool: str, rule_codes: Iterable[str], config_values: dict, root: str) -> str:
    """Everything besides a file's content that changes its findings."""
    payload = json.dumps(
        {"tool": tool, "rules": sorted(rule_codes), "config": config_values, "root": os.path.abspath(root)},
        sort_keys=True, default=repr,
    )
    return digest_bytes(payload.encode())[:20]


# --- stable digests of summaries ---------------------------------------------------

class Unstable(Exception):
    """A value without a canonical form (e.g. an object with an address in its repr)."""


def stable_digest(value: Any) -> Optional[str]:
    """A digest that is equal across processes for equal summaries, or None.

    `pickle` is not canonical here: sets of strings iterate in a per-process order
    (hash randomization). None tells the caller to fall back to the file's own digest.
    """
    try:
        return digest_bytes(_canonical(value, 0).encode("utf-8", "surrogatepass"))
    except (Unstable, RecursionError, UnicodeError):
        return None


def _canonical(value: Any, depth: int) -> str:
    if depth > 50:
        raise Unstable("too deep")
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if isinstance(value, Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, (list, tuple)):
        inner = ",".join(_canonical(v, depth + 1) for v in value)
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, (set, frozenset)):
        return "set{" + ",".join(sorted(_canonical(v, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(f"{_canonical(k, depth + 1)}:{_canonical(v, depth + 1)}" for k, v in value.items())
        return "dict{" + ",".join(items) + "}"
    if is_dataclass(value) and not isinstance(value, type):
        inner = ",".join(f"{f.name}={_canonical(getattr(value, f.name), depth + 1)}" for f in fields(value))
        return f"{type(value).__qualname__}({inner})"
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict):
        return f"{type(value).__qualname__}({_canonical(state, depth + 1)})"
    slots = getattr(type(value), "__slots__", None)
    if slots:
        names = (slots,) if isinstance(slots, str) else tuple(slots)
        return f"{type(value).__qualname__}({_canonical({n: getattr(value, n, None) for n in names}, depth + 1)})"
    raise Unstable(type(value).__qualname__)


def with_path(findings: list[Finding], path: str) -> list[Finding]:
    """Findings from the cache, shown under the path as given in this run."""
    for finding in findings:
        finding.path = path
    return findings


def file_error(entry: Entry, path: str) -> Optional[FileError]:
    return FileError(path, entry.error) if entry.error is not None else None


# Configuration keys that change which files are checked or how the run ends, but not
# what is found in one file: they stay out of the cache key.
_NOT_IN_KEY = {"jobs", "cache", "cache-dir", "exclude", "extend-exclude", "fail-on", "baseline"}


def open_cache(config: Any, rules: Iterable[Any]) -> Optional[Cache]:
    """The cache for this configuration and rule selection, or None when `cache = false`."""
    if config.get("cache", True) is False:
        return None
    rules = list(rules)
    modules = {"auditor"} | {type(rule).__module__.split(".")[0] for rule in rules} \
        | {type(rule).__module__ for rule in rules}
    values = {k: v for k, v in config.values.items() if k not in _NOT_IN_KEY}
    settings = settings_key(tool_fingerprint(modules), [r.code for r in rules], values, config.root)
    return Cache(cache_directory(config.root, config.get("cache-dir")), settings)
