"""Everything of training-auditor that executes user code: loop, guards, probes, script audit.

    from reference_loop import fit, test, prepare_splits
    splits = prepare_splits(X, y, seed=0)              # stratified, scaler fitted on train only
    result = fit(model, splits.train, splits.val, epochs=30)
    print(test(result, splits.test).metrics, result.findings)

torch and scikit-learn are imported here; the CLI imports this package lazily.
"""

from reference_loop.data import DataError, Splits, prepare_splits
from reference_loop.device import DeviceError, choose_device
from reference_loop.guards import GuardSet
from reference_loop.loop import FitResult, TestResult, evaluate, fit, test

__all__ = ["fit", "evaluate", "test", "prepare_splits", "Splits", "FitResult", "TestResult", "GuardSet",
           "DataError", "DeviceError", "choose_device"]
