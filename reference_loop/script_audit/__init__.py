"""`auditor run`: audit a user's own training script while it runs.

`run_target(path, args)` runs the script unchanged with global hooks installed into
torch and scikit-learn, feeds what they observe to the shared guards
(`reference_loop.guards`) and a row ledger, and returns the script's exit status with
the findings. Nothing here is imported by `auditor check`.
"""

from reference_loop.script_audit.runner import RunOutcome, run_target

__all__ = ["RunOutcome", "run_target"]
