"""Everything of training-auditor that executes user code: loop, guards, probes, script audit.

    from reference_loop import fit, test, prepare_splits
    splits = prepare_splits(X, y, seed=0)              # stratified, scaler fitted on train only
    result = fit(model, splits.train, splits.val, epochs=30)
    print(test(result, splits.test).metrics, result.findings)

torch and scikit-learn are imported by the submodules, on first use of a name below;
the CLI imports this package lazily.
"""

from importlib import import_module
from typing import Any

# Public name -> defining module. Imported on first use (PEP 562), so that
# `reference_loop.script_audit` can start a user's script before torch is imported.
_EXPORTS = {
    "DataError": "reference_loop.data",
    "Splits": "reference_loop.data",
    "prepare_splits": "reference_loop.data",
    "DeviceError": "reference_loop.device",
    "choose_device": "reference_loop.device",
    "GuardSet": "reference_loop.guards",
    "FitResult": "reference_loop.loop",
    "TestResult": "reference_loop.loop",
    "evaluate": "reference_loop.loop",
    "fit": "reference_loop.loop",
    "test": "reference_loop.loop",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reference_loop' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
