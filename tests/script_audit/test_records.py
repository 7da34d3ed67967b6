"""The audit owns its records: no record is inherited through a reused id(), a freed object's
record is still judged, and torch's warnings raised inside our wrappers name the user's line."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run needs torch (the runtime extra)")

from tests.conftest import run_auditor, write


class _Obj:
    pass


def _reuse_id(make, lookup, remember):
    """Free an object and make new ones until one gets its id; return (old, new) lookups."""
    first = make()
    old_id, old = id(first), remember(first)
    del first
    for _ in range(1000):
        new = make()
        if id(new) == old_id:
            return old, lookup(new)
    raise AssertionError("CPython never reused the id")  # pragma: no cover


def test_a_reused_id_gets_a_new_serial_and_a_new_record():
    import torch

    from reference_loop.script_audit.state import State

    st = State(guards=None)
    old, new = _reuse_id(lambda: torch.zeros(3), st.tensor_serial, st.tensor_serial)
    assert old != new
    old, new = _reuse_id(_Obj, st.loaders.get, lambda o: st.loaders.add(o, object()))
    assert old is not None and new is None  # the dead object's record is not inherited
    assert len(st.loaders.all) == 1  # ... and it is still there, for the verdicts at the end


def test_loader_freed_before_the_report_keeps_its_finding(project):
    write(project, "freed.py", """
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset

        def main():
            torch.manual_seed(0)
            X, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
            train = DataLoader(TensorDataset(X[:192], y[:192]), batch_size=32, shuffle=True)
            model = nn.Linear(8, 3)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for epoch in range(2):
                model.train()
                for xb, yb in train:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(xb), yb).backward()
                    opt.step()
                val = DataLoader(TensorDataset(X[192:], y[192:]), batch_size=32, shuffle=True)
                model.eval()
                with torch.no_grad():
                    print(sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val))

        main()
        """)
    proc = run_auditor("run", "freed.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "freed.py:17:1: TRN203" in proc.stderr, proc.stderr


def test_torch_warning_inside_a_wrapped_call_names_the_users_line(project):
    write(project, "warns.py", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(torch.randn(4, 3)), torch.randn(4))
        loss.backward()
        opt.step()
        """)
    proc = run_auditor("run", "warns.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "warns.py:6: UserWarning: Using a target size" in proc.stderr, proc.stderr
    assert "script_audit" not in proc.stderr
