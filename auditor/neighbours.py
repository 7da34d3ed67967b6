"""The project around the files a run names: its root, its files, and the neighbours.

Pre-commit names only the changed files, yet a finding on a file can depend on the
project modules it imports (a model class whose forward ends in a softmax) and on those
that import it (the mode a helper is called in). So the run also reads those neighbours,
through their summaries only, and reports nothing on them: a finding on a file is then
the same whether the file or the whole repository was named.

- The project root is where users expect it: the nearest directory holding
  pyproject.toml, setup.py, setup.cfg or .git; for a script outside any, its own
  directory (what Python puts first on `sys.path`).
- Its files are listed once per run (hidden directories, virtualenvs, build output and
  the configured excludes skipped; at most MAX_PROJECT_FILES); a root inside a directory
  the run named is not listed at all (its files are named already).
- A file's imports are read from its text by a regular expression (no parse), resolved
  to absolute module names as `resolve_import` does, and kept between runs by path, size
  and modification time (`imports-v2.pickle` in the cache directory), so a warm
  pre-commit run reads no file it does not check.
- Neighbours: the project files whose module a named file imports, and those that import
  a named file's module. One hop: summaries do not depend on other summaries, except
  through a package's `__init__`, which only re-exports: `import pkg` reaches the modules
  pkg/__init__.py imports (`from .model import *`), and a file importing `pkg` imports a
  named module that pkg/__init__.py re-exports (RE_EXPORT_DEPTH packages deep). Also the
  project files that read or write a data file a named file reads or writes (`clean.csv`:
  auditor/data_files.py): the file carries fitted data from one module to the other.

The listing (directories as discovery records them, and each file's size and
modification time) is also part of what a replayed run must find unchanged
(`scope_state`, and the fast replay's ticket).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from auditor.data_files import data_file_names
from auditor.fingerprint import blake2b

ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
# Listed per root at most; past it the search is partial (a monorepo costs a pre-commit
# run a bounded listing, never a walk of everything).
MAX_PROJECT_FILES = 5000
# Neighbours summarized at most per run (a module imported by hundreds of files would
# otherwise cost a cold pre-commit run hundreds of parses).
MAX_NEIGHBOURS = 256
# Attribute paths kept per bare import (`pkg.engine.evaluate` after `import pkg`).
MAX_ATTRIBUTE_PATHS = 64
# Package `__init__` files followed per chain of re-exports (`pkg/__init__.py` importing
# `pkg.sub`, whose `__init__` imports `pkg.sub.model`, ...).
RE_EXPORT_DEPTH = 3
# Besides the run's excludes: hidden directories (.git, .venv, .tox...) and the cache.
EXTRA_EXCLUDES = (".*", ".auditor_cache", "site-packages", "__pycache__")
# Files that can be imported (.py) or import others (.ipynb); .pyi stubs hold no calls.
_READ_SUFFIXES = (".py", ".ipynb")
SCANS_FILE = "imports-v2.pickle"  # v2: bare imports carry the attribute paths used
DATA_KEY = "data-files"  # entries keyed (DATA_KEY, path): the data files a file names

FileStat = tuple  # (absolute path, size, mtime_ns)


def project_root(path: str, memo: Optional[dict] = None) -> str:
    """The nearest ancestor of `path` holding a root marker, else the file's own directory."""
    start = os.path.dirname(os.path.abspath(path))
    memo = memo if memo is not None else {}
    seen = []
    current = start
    while True:
        found = memo.get(current)
        if found is not None:
            break
        if any(os.path.exists(os.path.join(current, marker)) for marker in ROOT_MARKERS):
            found = current
            break
        seen.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            found = ""  # no marker anywhere above: the script's own directory
            break
        current = parent
    for directory in seen:
        memo[directory] = found
    memo[current] = found
    return found or start


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


@dataclass
class NeighbourScope:
    """Which project roots a run lists for neighbours, and how (picklable, small)."""

    roots: list[str]
    excludes: tuple[str, ...]
    suffixes: tuple[str, ...]
    _listing: Optional[tuple[list, list]] = field(default=None, repr=False)

    def listing(self) -> tuple[list[FileStat], list]:
        """(files as (path, size, mtime_ns), the WalkedDirectory records), listed once."""
        if self._listing is None:
            self._listing = list_project(self.roots, self.excludes, self.suffixes)
        return self._listing

    def fresh_listing(self) -> tuple[list[FileStat], list]:
        """Listed again (after a run: did anything change meanwhile?)."""
        return list_project(self.roots, self.excludes, self.suffixes)

    def state(self, listing: Optional[tuple[list, list]] = None) -> str:
        files, _ = listing if listing is not None else self.listing()
        return scope_state(files)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_listing"] = None  # workers never list
        return state


def neighbour_scope(files: Iterable[str], named_directories: Iterable[str], excludes: Iterable[str],
                    suffixes: tuple[str, ...]) -> Optional[NeighbourScope]:
    """The roots to list for the named `files`: each file's project root, unless a directory
    the run walked holds it whole. None when there is nothing to list."""
    covered = [os.path.abspath(d) for d in named_directories]
    memo: dict = {}
    roots: list[str] = []
    for path in files:
        if not path.endswith(_READ_SUFFIXES):
            continue
        root = project_root(path, memo)
        if root in roots or any(_inside(root, d) for d in covered):
            continue
        roots.append(root)
    if not roots:
        return None
    # A root inside another root is listed with it.
    roots = [r for r in roots if not any(o != r and _inside(r, o) for o in roots)]
    return NeighbourScope(sorted(roots), tuple(excludes) + EXTRA_EXCLUDES, tuple(suffixes))


def list_project(roots: list[str], excludes: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[list, list]:
    from auditor.files import _walk  # discovery's own walk: the fast replay re-checks its records

    files: list[FileStat] = []
    walked: list = []
    for root in roots:
        count = 0
        for path in _walk(root, excludes, walked, suffixes):
            try:
                stat = os.stat(path)
            except OSError:
                continue
            files.append((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))
            count += 1
            if count >= MAX_PROJECT_FILES:
                break
    return files, walked


def scope_state(files: list[FileStat]) -> str:
    """One digest of a listing's files: any file added, removed, resized or touched changes
    it (a directory without files, such as a cache created by the run, does not)."""
    hasher = blake2b(digest_size=16)
    for path, size, mtime in files:
        hasher.update(f"{path}\0{size}\0{mtime}\n".encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()


# --- imports read from the text ----------------------------------------------------

# A statement starts a line or follows a semicolon; `from X import (a, b)` may span lines.
# (Scanned with a newline in front: `[\n;]` is a class the regex engine skips to in C,
# where `^` would be tried at every position.)
_FROM = re.compile(r"[\n;][ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n#;]*)")
_IMPORT = re.compile(r"[\n;][ \t]*import[ \t]+([^\n#;]*)")
# Notebooks are raw JSON: statements sit inside strings, after `"` or an escaped newline.
_NB_FROM = re.compile(r"\bfrom[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|[\w., \t]*)")
_NB_IMPORT = re.compile(r"(?<![\w.])import[ \t]+([\w., \t]*)")
_DOTTED = re.compile(r"[^\W\d][\w.]*")

RawImport = tuple  # (base of a `from` import, or "" for `import`; the names)


def raw_imports(text: str, notebook: bool = False) -> tuple[RawImport, ...]:
    """Each import statement as (from-base or "", names), relative bases kept as written."""
    found: list[RawImport] = []
    text = text if notebook else "\n" + text
    for match in (_NB_FROM if notebook else _FROM).finditer(text):
        names = tuple(n.split(" as ")[0].strip() for n in match.group(2).strip("()").replace("\\\n", " ").split(","))
        found.append((match.group(1), tuple(n for n in names if n and _DOTTED.fullmatch(n) or n == "*")))
    for match in (_NB_IMPORT if notebook else _IMPORT).finditer(text):
        names = []
        for part in match.group(1).split(","):
            words = part.split()
            name = words[0] if words else ""
            if _DOTTED.fullmatch(name):
                names.append(name)
                alias = words[2] if len(words) == 3 and words[1] == "as" else name
                names.extend(_attribute_paths(text, alias, name))
        if names:
            found.append(("", tuple(dict.fromkeys(names))))
    return tuple(found)


def _attribute_paths(text: str, alias: str, module: str) -> list[str]:
    """The submodules reached through a bare import's name (`import pkg` then
    `pkg.engine.evaluate(...)`: pkg.engine.evaluate), as module paths, so the file links to
    pkg.engine as the whole-project run does. Three attributes deep at most, and at most
    MAX_ATTRIBUTE_PATHS per import (`import torch` is used everywhere)."""
    pattern = re.compile(r"(?<![\w.])" + re.escape(alias) + r"((?:\.[^\W\d]\w*){1,3})")
    paths: dict[str, None] = {}
    for match in pattern.finditer(text):
        paths[module + match.group(1)] = None
        if len(paths) >= MAX_ATTRIBUTE_PATHS:
            break
    return list(paths)


def import_targets(imports: Iterable[RawImport], module: str, is_package: bool) -> set[str]:
    """Absolute module names the statements may import, seen from `module`
    (`from .engine import evaluate` in pkg.train: pkg.engine and pkg.engine.evaluate)."""
    targets: set[str] = set()
    for base, names in imports:
        if not base:
            for name in names:
                parts = name.split(".")
                targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            continue
        absolute = _absolute(base, module, is_package)
        if absolute is None:
            continue
        if absolute:
            targets.add(absolute)
        for name in names:
            if name != "*":
                targets.add(f"{absolute}.{name}" if absolute else name)
    return targets


def _absolute(base: str, module: str, is_package: bool) -> Optional[str]:
    stripped = base.lstrip(".")
    level = len(base) - len(stripped)
    if not level:
        return base
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    if level - 1 > len(package):
        return None
    package = package[: len(package) - (level - 1)]
    return ".".join(package + ([stripped] if stripped else []))


class ImportScans:
    """Each project file's raw imports, kept between runs by (size, mtime_ns)."""

    def __init__(self, directory: Optional[str]) -> None:
        self.file = os.path.join(directory, SCANS_FILE) if directory else None
        self.entries: dict = {}
        self.changed = False
        if self.file:
            import pickle

            try:
                with open(self.file, "rb") as handle:
                    loaded = pickle.load(handle)
                if isinstance(loaded, dict):
                    self.entries = loaded
            except Exception:  # missing, truncated, another Python: scan again
                pass

    def imports(self, path: str, size: int, mtime: int, read: Callable[[str], Optional[bytes]],
                needles: Optional[tuple] = None) -> tuple:
        """The file's raw imports; () without scanning when its bytes hold none of `needles`."""
        entry = self.entries.get(path)
        if entry is not None and entry[0] == size and entry[1] == mtime:
            return entry[2]
        data = read(path)
        if needles is not None and data is not None and not any(n in data for n in needles):
            return ()  # not kept: another run's named files may be in it
        found = raw_imports(data.decode("utf-8", "replace"), path.endswith(".ipynb")) if data is not None else ()
        self.entries[path] = (size, mtime, found)
        self.changed = True
        return found

    def data_files(self, path: str, size: int, mtime: int, read: Callable[[str], Optional[bytes]]) -> tuple:
        """The data file names the file reads or writes (auditor/data_files.py), kept as its
        imports are (under `(DATA_KEY, path)`)."""
        key = (DATA_KEY, path)
        entry = self.entries.get(key)
        if entry is not None and entry[0] == size and entry[1] == mtime:
            return entry[2]
        data = read(path)
        found = data_file_names(data.decode("utf-8", "replace")) if data is not None else ()
        self.entries[key] = (size, mtime, found)
        self.changed = True
        return found

    def save(self, keep: set[str]) -> None:
        """Write back the entries of the files still listed (`keep`), when anything changed
        (after the per-file cache, which creates and tags the directory)."""
        if not self.file or not self.changed:
            return
        import pickle

        from auditor.atomic import write_atomically

        entries = {p: e for p, e in self.entries.items() if (p[1] if isinstance(p, tuple) else p) in keep}
        try:
            if os.path.isdir(os.path.dirname(self.file)):  # the per-file cache creates (and tags) it
                write_atomically(self.file, pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # a read-only tree costs speed, never the check


def find_neighbours(named: dict[str, str], scope: NeighbourScope, module_of: Callable[[str], str],
                    scans: ImportScans, read: Callable[[str], Optional[bytes]],
                    max_file_size: int = 0) -> list[str]:
    """Project files (absolute paths, not named) that a named file imports or that import one.

    `named`: absolute path -> module name of every file the run checks.
    """
    files, _ = scope.listing()
    # A module name is relative to its file's base directory (the nearest one that is no
    # package, what `sys.path` would hold): `model` in one example directory is not
    # `model` in another. Files link when they share a base or one base is a project root.
    roots = set(scope.roots)
    named_bases: dict[str, set[str]] = {}  # module -> bases of the named files holding it
    for path, module in named.items():
        if module:
            base = base_directory(path, module)
            named_bases.setdefault(module, set()).add(base)
            for alias, alias_base in namespace_names(module, base):  # `model.net`: model/ has no __init__
                named_bases.setdefault(alias, set()).add(alias_base)
    wanted: Optional[dict[str, set[str]]] = None  # read once a candidate needs it
    # A file that imports a named module names its last part (`utils` in `from .utils import`,
    # `from pkg import utils`): a file whose bytes hold none of them is not scanned.
    packages = _package_inits(files, module_of)
    _add_re_exporting_packages(named_bases, packages, scans, read)
    needles = tuple({module.rsplit(".", 1)[-1].encode() for module in named_bases})
    found: list[str] = []
    named_files = _named_data_files(named, scans, read)
    for path, size, mtime in files:
        if path in named or not path.endswith(_READ_SUFFIXES):
            continue
        if max_file_size and size > max_file_size * (64 if path.endswith(".ipynb") else 1):
            continue
        if named_files and named_files.intersection(scans.data_files(path, size, mtime, read)):
            found.append(path)  # it reads or writes a data file a named file does
            if len(found) >= MAX_NEIGHBOURS:
                break
            continue
        module = module_of(path)
        base = base_directory(path, module)
        if path.endswith(".py") and wanted is None:
            wanted = _imported_by(named, scans, read)
            _add_re_exported_modules(wanted, packages, scans, read, roots)
        if path.endswith(".py") and (_reaches(base, wanted.get(module, ()), roots) or any(
                _reaches(alias_base, wanted.get(alias, ()), roots) for alias, alias_base in namespace_names(module, base))):
            found.append(path)
        elif named_bases:
            imports = scans.imports(path, size, mtime, read, needles)
            if imports and any(_reaches(base, named_bases.get(target, ()), roots) for target in
                               import_targets(imports, module, os.path.basename(path) == "__init__.py")):
                found.append(path)
        if len(found) >= MAX_NEIGHBOURS:
            break
    return found


def _named_data_files(named: dict[str, str], scans: ImportScans, read: Callable[[str], Optional[bytes]]) -> set:
    """The data file names the named files read or write: a project file naming one of them
    is a neighbour (a file carries data between them, as an import carries names)."""
    names: set = set()
    for path in named:
        if not path.endswith(_READ_SUFFIXES):
            continue
        try:
            stat = os.stat(path)
        except OSError:
            continue
        names.update(scans.data_files(path, stat.st_size, stat.st_mtime_ns, read))
    return names


PackageInit = tuple  # (path, size, mtime_ns, base directory)


def _package_inits(files: list[FileStat], module_of: Callable[[str], str]) -> dict[str, list[PackageInit]]:
    """Package name -> its `__init__.py` files in the listing (one per base directory)."""
    packages: dict[str, list[PackageInit]] = {}
    for path, size, mtime in files:
        if os.path.basename(path) == "__init__.py":
            module = module_of(path)
            if module:
                packages.setdefault(module, []).append((path, size, mtime, base_directory(path, module)))
    return packages


def _init_targets(init: PackageInit, package: str, scans: ImportScans,
                  read: Callable[[str], Optional[bytes]]) -> set[str]:
    path, size, mtime, _ = init
    return import_targets(scans.imports(path, size, mtime, read), package, True)


def _add_re_exported_modules(wanted: dict[str, set[str]], packages: dict[str, list[PackageInit]],
                             scans: ImportScans, read: Callable[[str], Optional[bytes]], roots: set[str]) -> None:
    """Forward: a package the named files import stands for the modules its `__init__`
    imports (`import d2l`, then `d2l.EncoderDecoder` from d2l/model.py)."""
    frontier = [module for module in wanted if module in packages]
    seen = set(frontier)
    for _ in range(RE_EXPORT_DEPTH):
        later = []
        for package in frontier:
            for init in packages[package]:
                if not _reaches(init[3], wanted.get(package, ()), roots):
                    continue
                for target in _init_targets(init, package, scans, read):
                    wanted.setdefault(target, set()).add(init[3])
                    if target in packages and target not in seen:
                        seen.add(target)
                        later.append(target)
        frontier = later


def _add_re_exporting_packages(named_bases: dict[str, set[str]], packages: dict[str, list[PackageInit]],
                               scans: ImportScans, read: Callable[[str], Optional[bytes]]) -> None:
    """Reverse: a package whose `__init__` imports a named module (or a package that does)
    is that module to the files importing the package (`from lib import evaluate`)."""
    for module in list(named_bases):
        parts = module.split(".")
        reached = {module}
        for depth in range(len(parts) - 1, max(len(parts) - 1 - RE_EXPORT_DEPTH, 0), -1):
            package = ".".join(parts[:depth])
            inits = [i for i in packages.get(package, ()) if i[3] in named_bases[module]]
            if not any(_init_targets(init, package, scans, read) & reached for init in inits):
                break
            reached.add(package)
            named_bases.setdefault(package, set()).update(i[3] for i in inits)


def base_directory(path: str, module: str) -> str:
    """The directory a module name is relative to (/r/lib/utils.py as lib.utils: /r)."""
    depth = module.count(".") + (1 if os.path.basename(path).startswith("__init__.") else 0)
    directory = os.path.dirname(os.path.abspath(path))
    for _ in range(depth):
        directory = os.path.dirname(directory)
    return directory


# Directories above a plain (no `__init__.py`) directory that may be on `sys.path`.
NAMESPACE_DEPTH = 2


def namespace_names(module: str, base: str) -> list[tuple[str, str]]:
    """Other names of a module whose directory holds no `__init__.py`: Python 3 imports
    model/net.py as `model.net` (a namespace package) from the directory above, which many
    research repositories rely on. [(name, the directory it is relative to)], nearest first."""
    names = []
    for _ in range(NAMESPACE_DEPTH):
        parent, directory = os.path.split(base.rstrip(os.sep))
        if not directory.isidentifier() or not parent or parent == base:
            break
        module, base = f"{directory}.{module}", parent
        names.append((module, base))
    return names


def _reaches(base: str, other_bases: Iterable[str], roots: set[str]) -> bool:
    """Whether a module under `base` and one under any of `other_bases` can import each other."""
    return any(other == base or other in roots or base in roots for other in other_bases)


def _imported_by(named: dict[str, str], scans: ImportScans,
                 read: Callable[[str], Optional[bytes]]) -> dict[str, set[str]]:
    """Module -> bases of the named files that import it."""
    wanted: dict[str, set[str]] = {}
    for path, module in named.items():
        if not path.endswith(_READ_SUFFIXES):
            continue
        try:
            stat = os.stat(path)
        except OSError:
            continue
        imports = scans.imports(path, stat.st_size, stat.st_mtime_ns, read)
        base = base_directory(path, module)
        for target in import_targets(imports, module, os.path.basename(path) == "__init__.py"):
            wanted.setdefault(target, set()).add(base)
    return wanted
