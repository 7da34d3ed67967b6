"""In-process checks of the pieces: fingerprints, lineage, clean removal of every hook."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run needs torch (the runtime extra)")

import subprocess
import sys

import numpy as np

from tests.conftest import REPO_ROOT, auditor_env, write


def test_fingerprints_agree_across_dtypes_and_containers():
    import torch

    from reference_loop.script_audit.rows import fingerprint, sample_fingerprint

    X = np.arange(60, dtype=np.float64).reshape(12, 5) / 7.0
    a = fingerprint(X)
    assert len(set(a.tolist())) == 12
    assert (fingerprint(torch.tensor(X, dtype=torch.float32)) == a).all()
    assert (fingerprint(-0.0 * np.ones((2, 3))) == fingerprint(np.zeros((2, 3)))).all()
    assert (sample_fingerprint(torch.tensor(X).float(), 3) == a[[0, 5, 11]]).all()
    assert fingerprint(np.arange(5)) is None  # one-dimensional: labels, not samples
    state = np.random.get_state()[1].copy()
    fingerprint(np.random.RandomState(0).rand(100, 4))
    assert (np.random.get_state()[1] == state).all()  # no draw from the global RNG


def test_lineage_traces_transformed_rows_back():
    from reference_loop.script_audit.ledger import Ledger
    from reference_loop.script_audit.rows import fingerprint

    class Scaler:
        pass

    ledger = Ledger()
    raw = np.arange(40, dtype=np.float64).reshape(10, 4)
    scaled = (raw - raw.mean(0)) / raw.std(0)
    mine, other = Scaler(), Scaler()
    ledger.fit(mine, "StandardScaler", ("x.py", 3), fingerprint(raw[:6]))
    ledger.transformed(mine, fingerprint(raw), fingerprint(scaled))
    fit = ledger.fit_of(mine)
    covered = ledger.covered(ledger.lineage(fingerprint(scaled)), fit.hashes)
    assert covered.tolist() == [True] * 6 + [False] * 4
    assert fit.leaked(ledger.lineage(fingerprint(scaled))).tolist() == [True] * 6 + [False] * 4
    # A fit on the same raw rows whose transform produced other rows (another fold's scaler)
    # did not produce these rows: no leak through it.
    ledger.fit(other, "StandardScaler", ("x.py", 9), fingerprint(raw))
    ledger.transformed(other, fingerprint(raw[:2]), fingerprint(raw[:2] * 3.0))
    assert not ledger.fit_of(other).leaked(ledger.lineage(fingerprint(scaled))).any()


def test_every_hook_is_removed_after_the_run(tmp_path):
    script = write(tmp_path, "tiny.py", """
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset
        model = nn.Linear(3, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for xb, yb in DataLoader(TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,))), batch_size=4):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    """)
    code = f"""
import torch, torch.nn.functional as F
from torch.optim import optimizer as O
from torch.utils.data import DataLoader
from torch.utils.data import dataloader as dl
import sklearn.base, sklearn.preprocessing
before = (torch.nn.Module.__call__, torch.Tensor.backward, torch.autograd.backward, F.cross_entropy,
          torch.optim.Optimizer.zero_grad, DataLoader.__init__, dl._BaseDataLoaderIter.__next__,
          sklearn.preprocessing.StandardScaler.fit, sklearn.base._SetOutputMixin.__dict__["__init_subclass__"])
import sys
from reference_loop.script_audit import run_target
outcome = run_target({str(script)!r}, [])
after = (torch.nn.Module.__call__, torch.Tensor.backward, torch.autograd.backward, F.cross_entropy,
         torch.optim.Optimizer.zero_grad, DataLoader.__init__, dl._BaseDataLoaderIter.__next__,
         sklearn.preprocessing.StandardScaler.fit, sklearn.base._SetOutputMixin.__dict__["__init_subclass__"])
assert outcome.exit_code == 0, outcome
assert all(a is b for a, b in zip(before, after)), [a for a, b in zip(before, after) if a is not b]
assert not O._global_optimizer_pre_hooks and not O._global_optimizer_post_hooks
assert not any(type(f).__name__ == "ImportWatcher" for f in sys.meta_path)
print("clean")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=auditor_env(),
                          cwd=str(REPO_ROOT), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("clean")


def test_importing_the_command_does_not_import_torch():
    code = "import sys, auditor.cli, auditor.commands.run; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=auditor_env(),
                          cwd=str(REPO_ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
