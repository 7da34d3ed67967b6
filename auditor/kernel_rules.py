"""The two codes the engine itself reports: a file that does not parse, a rule that crashed."""

from auditor.findings import Severity
from auditor.rule import Rule


class SyntaxErrorRule(Rule):
    code = "TRN000"
    name = "syntax-error"
    severity = Severity.ERROR
    summary = "The file does not parse as Python, so nothing else in it was checked."
    what = "Reported at the parser's position when a source file or notebook cannot be parsed."
    why = "A file that does not parse cannot be analysed; every other rule is silent on it."
    instead = "Fix the syntax error. Notebook cells with IPython magics are handled; other cell languages are skipped."
    kind = "static"
    needs_imports = ()


class InternalErrorRule(Rule):
    code = "TRN999"
    name = "internal-error"
    severity = Severity.ERROR
    summary = "A rule crashed on this file; the other rules' findings are kept."
    what = "Reported when a rule raises an exception on one file, naming the rule and the exception."
    why = "A crash in one rule must not hide the findings of the others, nor stop other files from being checked."
    instead = "Please report it with the file that triggers it; suppress with `--ignore TRN999` meanwhile."
    kind = "static"
    needs_imports = ()


KERNEL_RULES = [SyntaxErrorRule(), InternalErrorRule()]
