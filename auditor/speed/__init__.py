"""Speed machinery: what makes a check fast, none of what makes it right.

Everything here is tuning. Switch any of it off and `auditor check` reports the same
findings, only slower; the rest of auditor reaches it only through the names below (a
test holds that), and only this package touches libcst's private modules.

| technique | module | what it buys (measured; docs/performance.md) | off switch |
| --- | --- | --- | --- |
| replay of an unchanged run before click, the checker or libcst is imported | fast_replay.py | a warm run on pytorch/examples in 0.03 s against 1.0-1.3 s cold (20-35x) | `--no-cache`, or any option that writes (`--fix`, `-o`...) |
| replay of an unchanged run once the CLI is imported (the run memo) | run_memo.py | the same report without libcst or the rules when the fast replay could not decide | `--no-cache` |
| a cheap first look at each file | prefilter.py | files that cannot hold training code are compiled by CPython, never parsed by libcst | `EngineOptions(prefilter=False)` |
| which files need other files' summaries | dependencies.py | files that import no other checked file (and that none imports) are finished right after their parse; only the others hold a tree until phase 2 | none (it changes no finding, only when work is done) |
| libcst's class code kept between runs | libcst_import.py, generated_code.py | about two thirds of `import libcst` (dataclasses compiling generated methods); 7.9% of a one-file check for auditor's own classes | delete `.auditor_cache`-independent cache files beside the package |
| cheaper node constructors, validation paused while the parser builds | node_init.py, parsing.py | libcst re-validates every node it builds; the parser already did | none |
| expressions written token by token, positions of one statement, fix code without a module | render.py, codegen.py | libcst's `code_for_node` costs a context manager and two hooks per node; whole-module positions are resolved only when a statement-local one is ambiguous | none |
| the C accelerator: node builders, the parser's class namespace, the model's walk | speedups.py, _speedups.c | about a sixth of a check (node construction) and the walk; -1.5% for the namespace | `AUDITOR_NO_ACCELERATOR=1`, or a build without a C compiler |

The interface, by what the rest of auditor needs:
- parse a file: `import_libcst()` (before anything else imports libcst), `parse_module(text)`,
  `node_classes()`, `token_classes(classes)`, `model_walker()` (the C walk or None),
  `accelerator_available()`;
- write code without libcst's public code generation: `render_expression(node)` (the model's
  condition and argument texts, or None: ask libcst), `statement_code_and_ranges(...)` and
  `shifted_range(...)` (positions of one statement), `render_nodes(...)` (fixes);
- skip work: `may_hold_training_code(text, pattern)`, `relevance_pattern(words)`,
  `mentions_any(text, words)`, `compile_check(text, filename)`, `scan_imports(path, data)`,
  `may_be_a_part(names, data)`, `DependencyGraph`;
- replay an unchanged run: `replay_or_continue(argv)` and `run_check_command(load)` (the
  entry point's), and `run_memo` / `fast_replay` (the CLI records what they replay).

Names resolve on first use (PEP 562), so `auditor.speed.fast_replay` stays importable with
the standard library alone: importing this package imports nothing.
"""

from __future__ import annotations

import sys

# name -> (module of this package, attribute; None for the module itself)
_EXPORTS = {
    "import_libcst": ("libcst_import", "import_libcst"),
    "node_classes": ("libcst_import", "node_classes"),
    "token_classes": ("libcst_import", "token_classes"),
    "render_expression": ("render", "render"),
    "statement_code_and_ranges": ("codegen", "statement_code_and_ranges"),
    "shifted_range": ("codegen", "shifted_range"),
    "render_nodes": ("codegen", "render_nodes"),
    "parse_module": ("parsing", "parse_module"),
    "accelerator_available": ("speedups", "available"),
    "model_walker": ("speedups", "walker"),
    "may_hold_training_code": ("prefilter", "may_hold_training_code"),
    "relevance_pattern": ("prefilter", "relevance_pattern"),
    "mentions_any": ("prefilter", "mentions_any"),
    "compile_check": ("prefilter", "compile_check"),
    "scan_imports": ("dependencies", "scan_imports"),
    "may_be_a_part": ("dependencies", "may_be_a_part"),
    "DependencyGraph": ("dependencies", "DependencyGraph"),
    "replay_or_continue": ("fast_replay", "replay_or_continue"),
    "run_check_command": ("fast_replay", "run_check_command"),
    "fast_replay": ("fast_replay", None),
    "run_memo": ("run_memo", None),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    qualified = f"{__name__}.{module_name}"
    __import__(qualified)  # the builtin: no importlib needed for the fast replay
    module = sys.modules[qualified]
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip this function
    return value
