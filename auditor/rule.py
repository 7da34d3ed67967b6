"""The shape of a rule: identity, documentation and (for static rules) a check.

Rules live in the top-level `rules` package; the kernel only knows this base class
and receives the list of rule instances from the CLI.
"""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING, ClassVar

from auditor.findings import Severity

if TYPE_CHECKING:
    from auditor.context import FileContext

CODE_PATTERN = re.compile(r"^TRN\d{3}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Rule:
    """Subclass, fill in the class attributes, and implement `check` for static rules.

    `bad_examples` must be flagged and `good_examples` must stay silent: the test
    suite runs them through the real engine so the docs cannot drift from behaviour.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    what: ClassVar[str] = ""
    why: ClassVar[str] = ""
    instead: ClassVar[str] = ""
    bad_examples: ClassVar[tuple[str, ...]] = ()
    good_examples: ClassVar[tuple[str, ...]] = ()
    # "static": checked by `auditor check`; "runtime": only observed while code runs;
    # "both": a static check plus a runtime guard.
    kind: ClassVar[str] = "static"
    # Files that do not mention these top-level modules cannot hold the bug.
    needs_imports: ClassVar[tuple[str, ...]] = ("torch",)
    # False: an opt-in rule (hygiene or opinion: right by its letter, rarely what a
    # maintainer wants to be stopped for). `auditor check` runs it only when selected by
    # code, prefix, name or ALL; `default_reason` says why it is off by default.
    default: ClassVar[bool] = True
    default_reason: ClassVar[str] = ""

    @property
    def is_static(self) -> bool:
        return self.kind in ("static", "both")

    def check(self, ctx: "FileContext") -> None:  # pragma: no cover - overridden
        """Report findings through `ctx.report(...)`."""

    def docs(self) -> str:
        """The rule's page: what it does, why it is wrong, an example, what to write instead."""
        parts = [f"# {self.code} {self.name} ({self.severity.label})", "", self.summary, ""]
        if self.what:
            parts += ["## What it does", "", _dedent(self.what), ""]
        if self.why:
            parts += ["## Why is this bad?", "", _dedent(self.why), ""]
        if self.bad_examples:
            parts += ["## Example", "", "```python", _dedent(self.bad_examples[0]).rstrip(), "```", ""]
        if self.good_examples:
            parts += ["Use instead:", "", "```python", _dedent(self.good_examples[0]).rstrip(), "```", ""]
        if self.instead:
            parts += ["## How to fix", "", _dedent(self.instead), ""]
        kind = {"static": "static (`auditor check`)", "runtime": "runtime (`auditor run`, `auditor train`)",
                "both": "static (`auditor check`) and runtime (`auditor run`, `auditor train`)"}[self.kind]
        parts += [f"Found by: {kind}."]
        if not self.default:
            parts += ["", f"Opt-in: `auditor check` runs it only when selected (`--extend-select {self.code}`, "
                          f"`--select ALL`). {_dedent(self.default_reason)}".rstrip()]
        return "\n".join(parts).rstrip() + "\n"


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def validate_rules(rules: list[Rule]) -> None:
    """Fail loudly at start-up if two rules share an identity or one is malformed."""
    seen_codes: dict[str, Rule] = {}
    seen_names: dict[str, Rule] = {}
    for rule in rules:
        if not CODE_PATTERN.match(rule.code):
            raise ValueError(f"rule {rule!r} has a malformed code {rule.code!r}")
        if not NAME_PATTERN.match(rule.name):
            raise ValueError(f"rule {rule.code} has a malformed name {rule.name!r}")
        if rule.code in seen_codes or rule.name in seen_names:
            raise ValueError(f"duplicate rule identity {rule.code} {rule.name}")
        seen_codes[rule.code] = rule
        seen_names[rule.name] = rule
