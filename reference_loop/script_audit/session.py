"""One audit: install the hooks, let the script run, take them out, return the findings."""

from __future__ import annotations

from types import ModuleType

from auditor.findings import Finding
from reference_loop.script_audit.patching import ImportWatcher, Patches
from reference_loop.script_audit.state import State


class AuditSession:
    """`install()` before the script runs; `uninstall()` then `findings()` after it stops.

    torch-side hooks are installed the moment the script first imports torch (and never
    if it does not), scikit-learn's when it imports scikit-learn.
    """

    def __init__(self) -> None:
        self.patches = Patches()
        self.imports = ImportWatcher()
        self.state = State(guards=None)

    def install(self) -> None:
        from reference_loop.script_audit import sklearn_watch

        self.imports.install(self.patches)
        sklearn_watch.install(self.state, self.patches, self.imports)
        self.imports.on_import("torch", self._on_torch)

    def _on_torch(self, torch_module: ModuleType) -> None:
        from reference_loop.guards import GuardSet
        from reference_loop.script_audit import data, losses, models, optim

        self.state.guards = GuardSet()
        models.install(self.state, self.patches)
        optim.install(self.state, self.patches)
        losses.install(self.state, self.patches)
        data.install(self.state, self.patches)

    def uninstall(self) -> None:
        self.state.active = False
        self.patches.undo()

    def findings(self) -> list[Finding]:
        """Every verdict, once the script has stopped (call after uninstall())."""
        from reference_loop.script_audit.verdicts import data_verdicts, keep_guard_finding

        st = self.state
        out: list[Finding] = []
        if st.guards is not None:
            from reference_loop.script_audit.models import settle_all
            from reference_loop.script_audit.verdicts import add_evidence, loader_events, loop_verdicts

            settle_all(st)
            evidence = loader_events(st)
            guarded = [f for f in st.guards.finish() if keep_guard_finding(st, f)]
            add_evidence(guarded, evidence)
            out += guarded
            out += loop_verdicts(st)
        out += data_verdicts(st)
        seen: set = set()
        unique = []
        for f in sorted(out, key=Finding.sort_key):
            key = (f.code, f.path, f.line)
            if key not in seen:
                seen.add(key)
                unique.append(f)
        return unique
