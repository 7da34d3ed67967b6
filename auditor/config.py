"""`[tool.auditor]` in the nearest pyproject.toml: read, validated, merged with flags."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from auditor.config_search import find_config  # kept apart so the fast replay can use it
from auditor.findings import Severity


class ConfigError(Exception):
    """A configuration problem, reported as one line with exit status 2."""


def _string_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"[tool.auditor] {key} must be a list of strings, got {value!r}")


def _per_file_ignores(key: str, value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ConfigError(f"[tool.auditor] {key} must be a table of glob = [codes], got {value!r}")
    return {str(glob): _string_list(f"{key}.{glob!r}", codes) for glob, codes in value.items()}


def _severity(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"[tool.auditor] {key} must be one of error, warning, info, got {value!r}")
    try:
        return Severity.parse(value).label
    except ValueError as exc:
        raise ConfigError(f"[tool.auditor] {key}: {exc}") from None


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"[tool.auditor] {key} must be a non-empty string, got {value!r}")
    return value


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"[tool.auditor] {key} must be a positive integer, got {value!r}")
    return value


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"[tool.auditor] {key} must be true or false, got {value!r}")
    return value


# Files larger than this (notebooks: their code cells) are skipped with a notice: generated
# code and data files would cost libcst tens of seconds and gigabytes (docs/performance.md).
DEFAULT_MAX_FILE_SIZE = 500_000
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "kib": 1024, "mib": 1024 ** 2,
               "gib": 1024 ** 3}


def parse_size(value: Any) -> int:
    """Bytes from 1000000, "1MB", "500 kB", "2MiB"; 0 means no limit. ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"not a size: {value!r}")
        return value
    if isinstance(value, str):
        import re

        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if match and match.group(2).lower() in _SIZE_UNITS:
            return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    raise ValueError(f"not a size: {value!r} (bytes, or a number with kB, MB, KiB, MiB...)")


def _size(key: str, value: Any) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ConfigError(f"[tool.auditor] {key}: {exc}") from None


# Every key the table accepts, with the function that validates its value.
SCHEMA = {
    "select": _string_list,
    "extend-select": _string_list,
    "ignore": _string_list,
    "exclude": _string_list,
    "extend-exclude": _string_list,
    "per-file-ignores": _per_file_ignores,
    "fail-on": _severity,
    "baseline": _string,
    "jobs": _positive_int,
    "cache": _boolean,
    "cache-dir": _string,
    "max-file-size": _size,
    "include-markdown": _boolean,
}


@dataclass
class Config:
    values: dict[str, Any] = field(default_factory=dict)
    path: Optional[str] = None  # the pyproject.toml it came from

    @property
    def root(self) -> str:
        return os.path.dirname(self.path) if self.path else os.getcwd()

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def parse_table(table: Any, origin: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [tool.auditor] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        validator = SCHEMA.get(key)
        if validator is None:
            known = ", ".join(sorted(SCHEMA))
            raise ConfigError(f"{origin}: unknown key {key!r} in [tool.auditor] (known keys: {known})")
        try:
            values[key] = validator(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return values


def load_file(path: str) -> Config:
    # Imported here, not at the top: a run without a pyproject.toml never needs it (~3 ms).
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on older interpreters only
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = document.get("tool", {}).get("auditor", {}) if isinstance(document.get("tool"), dict) else {}
    return Config(values=parse_table(table, path), path=os.path.abspath(path))


def load_config(paths: Iterable[str], explicit: Optional[str] = None) -> Config:
    if explicit:
        return load_file(explicit)
    found = find_config(list(paths))
    return load_file(found) if found else Config()
