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
        from reference_loop.script_audit import sklearn_watch, warnings_site

        self.imports.install(self.patches)
        warnings_site.install(self.patches)
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
            from reference_loop.script_audit.verdicts import loop_verdicts, shuffled_eval_loaders

            settle_all(st)
            guarded = [f for f in st.guards.finish() if keep_guard_finding(st, f)]
            for f in guarded:
                if f.code == "TRN402" and st.discard_where is not None:
                    # The bug is the zero_grad() call inside the window, not the step after it.
                    f.path, f.line = st.discard_where
                    f.end_line = f.line
            out += guarded
            out += shuffled_eval_loaders(st)
            out += loop_verdicts(st)
            out += _nonfinite_backward(st, guarded)
        out += data_verdicts(st)
        seen: set = set()
        unique = []
        for f in sorted(out, key=Finding.sort_key):
            key = (f.code, f.path, f.line)
            if key not in seen:
                seen.add(key)
                caller = st.callers.get((f.path, f.line))
                if caller is not None and "called from" not in f.message:
                    f.message = f.message.rstrip(".") + f" (in a helper called from {caller[0]}:{caller[1]})"
                unique.append(f)
        return unique


def _nonfinite_backward(st: State, guarded: list) -> list[Finding]:
    """TRN407 for a loss that no watched loss function computed (a hand-written loss)."""
    import math

    from reference_loop.guards import make_finding

    if st.backward_acc is None or any(f.code == "TRN407" for f in guarded):
        return []
    total = float(st.backward_acc)
    if math.isfinite(total):
        return []
    return [make_finding("TRN407", f"a tensor that reached backward() became {str(total).lower()} (over "
                         f"{st.backward_count} backward calls): any tensor backward() is called on is a loss, and "
                         "every update after it is garbage; find where the loss first turns non-finite (log of "
                         "zero, division by zero, overflow)", st.backward_where or ("<unknown>", 1))]
