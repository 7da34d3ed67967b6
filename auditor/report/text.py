"""The human format: `path:line:col: CODE [name] message`, colored only on a terminal."""

from __future__ import annotations

STYLES = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def _location(f) -> str:
    if f.cell is not None:
        return f"{f.path}:cell {f.cell}:{f.line}:{f.column}"
    return f"{f.path}:{f.line}:{f.column}"


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{RESET}" if color else text


def render_text(report, *, color=False, show_source=False, statistics=False, quiet=False, sources=None) -> str:
    sources = sources or {}
    out: list[str] = []
    for f in report.findings:
        code = _paint(f.code, BOLD + STYLES[f.severity.label], color)
        out.append(f"{_paint(_location(f), BOLD, color)}: {code} [{f.name}] {f.message}")
        if show_source:
            out.extend(_source_excerpt(f, sources.get(f.path), color))
    if statistics:
        counts: dict[tuple[str, str], int] = {}
        for f in report.findings:
            counts[(f.code, f.name)] = counts.get((f.code, f.name), 0) + 1
        for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{n:5d}  {code}  {name}")
    if not quiet:
        s = report.summary()
        sev = s["by_severity"]
        tail = f"Found {s['findings']} finding{'s' if s['findings'] != 1 else ''}"
        if s["findings"]:
            tail += f" ({sev['error']} error, {sev['warning']} warning, {sev['info']} info)"
        tail += f" in {s['files']} file{'s' if s['files'] != 1 else ''} checked"
        if report.file_errors:
            tail += f"; {len(report.file_errors)} file{'s' if len(report.file_errors) != 1 else ''} could not be checked"
        if report.fixed:
            tail += f"; fixed {report.fixed}"
        out.append(tail + ".")
    return "\n".join(out) + ("\n" if out else "")


def _source_excerpt(f, lines, color: bool) -> list[str]:
    """The flagged line(s) with a caret under the span, like a compiler."""
    if not lines:
        return []
    if not (1 <= f.line <= len(lines)):
        return []
    text = lines[f.line - 1].rstrip("\n")
    width = len(str(f.line))
    start = max(f.column - 1, 0)
    end = f.end_column - 1 if f.end_line == f.line else len(text)
    caret = " " * start + "^" * max(end - start, 1)
    return [
        f"{' ' * width} |",
        f"{f.line} | {text}",
        f"{' ' * width} | {_paint(caret, STYLES[f.severity.label], color)}",
        "",
    ]
