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
    # {key: {class: "softmax"/"sigmoid"/None}}: what the model classes' forwards return under
    # each string key of a returned dict (a loss reading `output['exist']` from a model built
    # by a registry learns what every model of the project holds there).
    output_keys: dict = field(default_factory=dict)
    # Top-level classes whose constructor shuffles unless told not to (`shuffle=True` by
    # default): a project's own loader class, built over test data in another module.
    shuffling_classes: list = field(default_factory=list)
    # The user's own losses, {(class or function, positional index): loss kind}, and the
    # built-in losses this file installs on objects of a class (see loss_inputs.py).
    loss_consumers: dict = field(default_factory=dict)
    loss_installs: list = field(default_factory=list)
    # This file's calls of functions of other modules with what each argument is (a built-in
    # loss, an instance of a user class): see handed.py.
    call_arguments: list = field(default_factory=list)
    # Meters (see meters.py): {(class, method): {position: total}} for methods adding an
    # argument into a total on the object, and {(class, attribute): (module, class)} for
    # attributes an `__init__` fills with an instance of a user class.
    meter_methods: dict = field(default_factory=dict)
    attribute_classes: dict = field(default_factory=dict)
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
    if model.class_info or model.function_info:
        from auditor.analysis.activations import class_outputs, output_keys
        if "softmax" in text or "sigmoid" in text or "Softmax" in text or "Sigmoid" in text:
            summary.outputs = class_outputs(model)
        # Every model's dict keys, with or without an activation: one returning logits under
        # a key vetoes a finding on that key (see ProjectIndex.output_keys).
        if model.class_info:
            summary.output_keys = output_keys(model, summary.outputs)
    if model.class_info and "shuffle" in text:
        from auditor.analysis.project_names import shuffles_by_default

        summary.shuffling_classes = [c.name for c in model.class_info.values() if shuffles_by_default(c)]
    from auditor.analysis.loss_inputs import LOSS_WORDS, loss_consumers, loss_installs
    if any(word in text for word in LOSS_WORDS):
        summary.loss_consumers = loss_consumers(model)
        summary.loss_installs = loss_installs(model, module, is_package)
    if model.class_info:
        from auditor.analysis.meters import attribute_classes, meter_methods

        if "+=" in text:
            summary.meter_methods = meter_methods(model)
        summary.attribute_classes = attribute_classes(model, module, is_package)
    if model.imports.aliases:
        from auditor.analysis.handed import call_arguments

        summary.call_arguments = call_arguments(model, module, is_package)
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
    """The run's summaries by module name, and who calls what.

    `bases` (optional): module name -> [(base directory, summary)] for the names that
    several files of the run hold (`model.py` beside each of several example scripts). A
    module name is relative to its file's base directory (the nearest one that is no
    package: what `sys.path` would hold), so `for_base(base)` gives one file the view in
    which such a name means the file beside it (`summaries` keeps the last one, which the
    others see).
    """

    def __init__(self, summaries: dict[str, Any], bases: Optional[dict[str, list]] = None,
                 summary_bases: Optional[list] = None) -> None:
        self.summaries = summaries  # module name -> summary
        self.bases = bases or {}
        # The base of each summary (parallel to the callers it holds), for `bases` only.
        self.summary_bases = summary_bases or []
        self._callers: Optional[dict] = None  # (module, function) -> [(grad, modes)]
        self._called: Optional[dict] = None  # module -> names of its functions called from other files
        self._loss_tables: Optional[tuple] = None
        self._call_arguments: Optional[dict] = None
        self._output_keys: Optional[dict] = None
        # (module, function, callee base) -> [(grad, modes)] and (module, callee base) -> names,
        # for the module names in `bases`.
        self._based_callers: dict = {}
        self._based_called: dict = {}

    @classmethod
    def from_files(cls, files: list[tuple[str, str, Any]]) -> "ProjectIndex":
        """From (module, base directory, summary) in run order (a later file wins a name)."""
        summaries: dict[str, Any] = {}
        holders: dict[str, list] = {}
        for module, base, summary in files:
            summaries[module] = summary
            holders.setdefault(module, []).append((base, summary))
        bases = {module: found for module, found in holders.items() if len(found) > 1}
        if not bases:
            return cls(summaries)
        return cls(summaries, bases, [(base, summary) for _, base, summary in files])

    def state(self) -> tuple:
        """What a worker process needs to rebuild the index (`ProjectIndex(*state)`)."""
        return self.summaries, self.bases, self.summary_bases

    def for_base(self, base: str) -> "ProjectIndex":
        """The index as a file under `base` sees it (itself when no name is held twice)."""
        return _BaseView(self, base) if self.bases else self

    def _resolved_base(self, module: str, caller_base: str) -> Optional[str]:
        """Which holder of a shared module name a file under `caller_base` imports."""
        found = self.bases[module]
        for base, _ in found:
            if base == caller_base:
                return base
        return found[-1][0]

    def get(self, module: str) -> Optional[Any]:
        return self.summaries.get(module)

    def loss_tables(self) -> tuple[frozenset, list]:
        """(names of the user's losses and of classes given a criterion, every loss install),
        over all modules, gathered once (see loss_inputs.py)."""
        if self._loss_tables is None:
            names: set = set()
            installs: list = []
            # Every file's summary, also those whose module name another file shadows.
            holders = [summary for _, summary in self.summary_bases] if self.bases else self.summaries.values()
            for summary in holders:
                names.update(owner for owner, _ in (getattr(summary, "loss_consumers", None) or {}) if "." not in owner)
                found = getattr(summary, "loss_installs", None) or ()
                names.update(owner for owner, *_ in found)
                installs.extend((getattr(summary, "module", None), entry) for entry in found)
                # Functions handed a built-in loss by a caller of another module (handed.py).
                names.update(name for _, name, described in getattr(summary, "call_arguments", None) or ()
                             if any(d is not None and d[0] == "loss" for d in described.values()))
            self._loss_tables = (frozenset(names), installs)
        return self._loss_tables

    def output_keys(self, key: str) -> dict:
        """{(module, class): "softmax"/"sigmoid"/None} for every model class of the run whose
        forward returns a dict holding `key` (see activations.output_keys)."""
        if self._output_keys is None:
            table: dict = {}
            holders = self.summary_bases if self.bases else [(None, s) for s in self.summaries.values()]
            for _, summary in holders:
                module = getattr(summary, "module", None)
                for name, classes in (getattr(summary, "output_keys", None) or {}).items():
                    for cls, kind in classes.items():
                        table.setdefault(name, {})[(module, cls)] = kind
            self._output_keys = table
        return self._output_keys.get(key, {})

    def call_arguments(self, module: str, function: str) -> list[dict]:
        """{position or keyword: descriptor} at each call of `module.function` from other
        files (see handed.py), gathered once over all modules."""
        if self._call_arguments is None:
            table: dict = {}
            holders = [summary for _, summary in self.summary_bases] if self.bases else self.summaries.values()
            for summary in holders:
                for target, name, described in getattr(summary, "call_arguments", None) or ():
                    table.setdefault((target, name), []).append(described)
            self._call_arguments = table
        return self._call_arguments.get((module, function), [])

    def _index(self) -> dict:
        if self._callers is None:
            callers: dict = {}
            called: dict = {}
            based_callers: dict = {}
            based_called: dict = {}
            holders = self.summary_bases if self.bases else [(None, s) for s in self.summaries.values()]
            for caller_base, summary in holders:
                for target_module, function, grad, modes in getattr(summary, "calls", ()):
                    callers.setdefault((target_module, function), []).append((grad, modes))
                    called.setdefault(target_module, set()).add(function)
                    if target_module in self.bases:
                        base = self._resolved_base(target_module, caller_base)
                        based_callers.setdefault((target_module, function, base), []).append((grad, modes))
                        based_called.setdefault((target_module, base), set()).add(function)
            self._callers = callers
            self._called = {module: frozenset(names) for module, names in called.items()}
            self._based_callers = based_callers
            self._based_called = {key: frozenset(names) for key, names in based_called.items()}
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


class _BaseView:
    """A ProjectIndex as one file sees it: a module name that several files of the run
    hold means the one beside it (same base directory), else the one `summaries` keeps."""

    def __init__(self, index: ProjectIndex, base: str) -> None:
        self.index = index
        self.base = base
        self.summaries = index.summaries

    def get(self, module: str) -> Optional[Any]:
        found = self.index.bases.get(module)
        if found is not None:
            for base, summary in found:
                if base == self.base:
                    return summary
        return self.index.get(module)

    def call_contexts(self, module: str, function: str) -> list[tuple[str, dict]]:
        index = self.index
        index._index()
        if module in index.bases:
            return index._based_callers.get((module, function, self._own(module)), [])
        return index.call_contexts(module, function)

    def called_functions(self, module: str) -> frozenset:
        index = self.index
        index._index()
        if module in index.bases:
            return index._based_called.get((module, self._own(module)), frozenset())
        return index.called_functions(module)

    def has_callers(self, module: str) -> bool:
        return bool(self.called_functions(module))

    def _own(self, module: str) -> str:
        """The base of the holder of `module` that this file is (or sees)."""
        return self.index._resolved_base(module, self.base)

    def __getattr__(self, name: str):
        # Anything added to ProjectIndex later answers as the whole index does (a name held
        # twice then means the last holder, as before views existed) until taught views.
        return getattr(self.index, name)
