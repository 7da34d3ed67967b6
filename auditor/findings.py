"""Finding, Severity and Fix: the one currency of every part of training-auditor."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional


class Severity(enum.IntEnum):
    """Ordered so that `severity >= Severity.WARNING` reads naturally."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in sorted(cls, reverse=True))
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


@dataclass(frozen=True)
class Edit:
    """Replace the text between two 1-based (line, column) positions with `content`."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "content": self.content,
        }


@dataclass
class Fix:
    """An edit that `--fix` would apply.

    `applicability` is "safe" (keeps behaviour apart from the bug) or "unsafe"
    (changes behaviour on purpose; applied only with `--unsafe-fixes`).
    `edits` are the serialized text edits; `transform` is the in-memory form the
    fixer applies (not serialized, not pickled across processes).
    """

    description: str
    applicability: str = "safe"
    edits: list[Edit] = field(default_factory=list)
    transform: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "applicability": self.applicability,
            "edits": [e.to_dict() for e in self.edits],
        }

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["transform"] = None
        return state


@dataclass
class Finding:
    code: str
    name: str
    severity: Severity
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    source: str = "static"
    fix: Optional[Fix] = None
    cell: Optional[int] = None
    # First line of the statement holding the finding: `# noqa` works there too.
    statement_line: Optional[int] = field(default=None, compare=False)
    fingerprint: Optional[str] = field(default=None, compare=False)

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.label,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "message": self.message,
            "source": self.source,
            "fix": self.fix.to_dict() if self.fix else None,
        }
        if self.cell is not None:
            data["cell"] = self.cell
        if self.fingerprint is not None:
            data["fingerprint"] = self.fingerprint
        return data


@dataclass
class FileError:
    """A file that could not be checked at all (unreadable, not UTF-8, bad notebook)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: error: {self.message}"
