"""Cross-file knowledge for one `auditor check` run: per-file summaries, merged.

Phase 1 of the engine calls `summarize_file` on every parsed file; the summaries
(small, picklable) are merged into a `ProjectIndex` that phase 2 hands to rules
through `ctx.project`. No file is parsed twice.
"""

from __future__ import annotations

import builtins
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from auditor.analysis.names import dotted_name, resolve_import


def module_name_for(path: str, packages: Optional[dict[str, bool]] = None) -> str:
    """Dotted module name of a file path, relative to the nearest non-package directory.

    `packages` remembers, for a caller naming many files in one go, which directories
    hold an `__init__.py` (a stat each, asked once).
    """
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    parts = [os.path.splitext(filename)[0]]
    if parts[0] == "__init__":
        parts = []
    while True:
        is_package = packages.get(directory) if packages is not None else None
        if is_package is None:
            is_package = os.path.isfile(os.path.join(directory, "__init__.py"))
            if packages is not None:
                packages[directory] = is_package
        if not is_package:
            break
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts)


@dataclass
class FileSummary:
    """What other files of the run need to know about one file (small and picklable).

    `calls`: calls this file makes to functions of other modules, with the context at
    the call: (module, function, grad mode, {argument index: model mode}).
    """

    module: str
    functions: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, str, dict]] = field(default_factory=list)
    # (class, "softmax"/"sigmoid", tuple index or None) for model classes whose forward ends
    # in that activation: a loss in another module learns what such a model returns.
    outputs: dict = field(default_factory=dict)
    # class name -> (True/False/None, layer): the file's nn.Module classes and whether their
    # layers depend on the mode (auditor/analysis/mode_layers.py). A file building one of
    # them knows it builds a fresh model, in training mode.
    model_classes: dict = field(default_factory=dict)
    # modules this file star-imports (`from utils import *`), resolved: a call of a bare name
    # that no import or definition of the file explains may be one of their functions.
    star_imports: list = field(default_factory=list)


# Star imports of these never bring a function of the project (`from torch.nn import *`).
_LIBRARIES = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "torch", "torchvision", "numpy", "scipy", "pandas", "sklearn", "matplotlib", "tensorflow", "keras", "jax",
    "fastai", "transformers", "lightning", "pytorch_lightning", "tqdm", "PIL", "cv2"}


def summarize_file(ctx) -> Optional[Any]:
    """Phase 1: this file's functions and its calls into other modules, with their context."""
    from auditor.analysis.flow import UNKNOWN
    from auditor.analysis.program import program_of

    if "def " not in ctx.source.text and "import" not in ctx.source.text:
        return None
    module = ctx.module_name
    is_package = os.path.basename(ctx.path) == "__init__.py"
    model = ctx.model
    summary = FileSummary(module=module, functions=[i.name for i in model.function_info.values()
                                                     if i.parent is None and i.cls is None])
    text = ctx.source.text
    if model.class_info and ("softmax" in text or "sigmoid" in text or "Softmax" in text or "Sigmoid" in text):
        from auditor.analysis.activations import class_outputs
        summary.outputs = class_outputs(model)
    if model.class_info:
        from auditor.analysis.mode_layers import class_dependence
        from auditor.analysis.roles import is_module_class

        summary.model_classes = {info.name: class_dependence(model, info) for info in model.class_infos
                                 if is_module_class(model, info)}
    for star in model.imports.stars:
        target = resolve_import(module, f"{star}.*", is_package)
        if target is not None and target[0].split(".", 1)[0] not in _LIBRARIES:
            summary.star_imports.append(target[0])
    if not model.imports.aliases and not summary.star_imports:
        return summary
    prog = None  # the flow only when a call needs it: phase 2 then runs it once, with the project
    local = {i.name for i in model.function_info.values()} | set(model.class_info)
    for site in model.calls:
        if site.qualname is None and summary.star_imports and site.callee and "." not in site.callee \
                and site.callee not in local and not hasattr(builtins, site.callee):
            targets = [(star, site.callee) for star in summary.star_imports]  # `from utils import *`
        elif site.qualname is None or site.qualname.startswith(("torch", "numpy", "sklearn", "os.", "sys.")):
            continue
        else:
            target = resolve_import(module, site.qualname, is_package)
            if target is None:
                continue
            targets = [target]
        if prog is None:
            prog = program_of(model)
        names = [dotted_name(a.value) for a in site.node.args if a.keyword is None and not a.star]
        for state in prog.flow.states_at(site.node):
            modes = {}
            for index, name in enumerate(names):
                mode = state.mode(name) if name else None
                if mode is not None and mode != UNKNOWN:
                    modes[index] = mode
            for target in targets:
                summary.calls.append((target[0], target[1], state.grad, modes))
    return summary


class ProjectIndex:
    def __init__(self, summaries: dict[str, Any]) -> None:
        self.summaries = summaries  # module name -> summary
        self._callers: Optional[dict] = None  # (module, function) -> [(grad, modes)]
        self._called: Optional[dict] = None  # module -> names of its functions called from other files

    def get(self, module: str) -> Optional[Any]:
        return self.summaries.get(module)

    def _index(self) -> dict:
        if self._callers is None:
            callers: dict = {}
            called: dict = {}
            for summary in self.summaries.values():
                for target_module, function, grad, modes in getattr(summary, "calls", ()):
                    callers.setdefault((target_module, function), []).append((grad, modes))
                    called.setdefault(target_module, set()).add(function)
            self._callers = callers
            self._called = {module: frozenset(names) for module, names in called.items()}
        return self._callers

    def call_contexts(self, module: str, function: str) -> list[tuple[str, dict]]:
        """(grad mode, {argument index: model mode}) at each call of `module.function` from other files."""
        return self._index().get((module, function), [])

    def called_functions(self, module: str) -> frozenset:
        """Names (qualified within `module`) of its functions that other files call."""
        self._index()
        return self._called.get(module, frozenset())

    def model_class(self, module: str, name: str) -> Optional[tuple]:
        """(True/False/None, layer) when `module` defines the nn.Module class `name`, else None."""
        return getattr(self.summaries.get(module), "model_classes", {}).get(name)

    def has_callers(self, module: str) -> bool:
        # Indexed once: program_of asks this for every rule of every file.
        self._index()
        return module in self._called
