"""TRN409's fix through `auditor check --fix`: the `torch.cuda.amp` import it makes unused
goes with the last use it rewrites; an import still read elsewhere stays."""

from __future__ import annotations

from textwrap import dedent

import pytest

from tests.conftest import run_auditor

CASES = {
    # every use rewritten: the import goes
    "only_autocast": ("""
        import torch
        from torch.cuda.amp import autocast

        with autocast():
            out = model(x)
        with autocast(dtype=torch.float16):
            loss = model(y)
        """, """
        import torch

        with torch.amp.autocast("cuda"):
            out = model(x)
        with torch.amp.autocast("cuda", dtype=torch.float16):
            loss = model(y)
        """),
    # GradScaler's fix is unsafe: without --unsafe-fixes its name stays imported
    "two_names": ("""
        import torch
        from torch.cuda.amp import autocast, GradScaler

        scaler = GradScaler()
        with autocast():
            out = model(x)
        """, """
        import torch
        from torch.cuda.amp import GradScaler

        scaler = GradScaler()
        with torch.amp.autocast("cuda"):
            out = model(x)
        """),
    # the module alias is read by something no fix rewrites: it stays
    "alias_still_read": ("""
        import torch
        from torch.cuda import amp

        with amp.autocast():
            out = model(x)
        assert isinstance(scaler, amp.GradScaler)
        """, """
        import torch
        from torch.cuda import amp

        with torch.amp.autocast("cuda"):
            out = model(x)
        assert isinstance(scaler, amp.GradScaler)
        """),
    # an aliased module import, every use rewritten
    "module_alias": ("""
        import torch
        import torch.cuda.amp as cuda_amp

        with cuda_amp.autocast(enabled=True):
            out = model(x)
        """, """
        import torch

        with torch.amp.autocast("cuda", enabled=True):
            out = model(x)
        """),
    # a call kept for old torch releases keeps its import
    "version_branch": ("""
        import torch
        from torch.cuda.amp import autocast

        if torch.__version__ < "2.4":
            ctx = autocast()
        with autocast():
            out = model(x)
        """, """
        import torch
        from torch.cuda.amp import autocast

        if torch.__version__ < "2.4":
            ctx = autocast()
        with torch.amp.autocast("cuda"):
            out = model(x)
        """),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fix_removes_the_import_it_made_unused_and_only_that(tmp_path, name):
    before, after = (dedent(text).lstrip("\n") for text in CASES[name])
    path = tmp_path / "train.py"
    path.write_text(before, encoding="utf-8")
    proc = run_auditor("check", "--no-cache", "--select", "TRN409", "--fix", str(path))
    assert path.read_text(encoding="utf-8") == after, proc.stdout + proc.stderr
    again = run_auditor("check", "--no-cache", "--select", "TRN409", "--fix", str(path))
    assert path.read_text(encoding="utf-8") == after and "fixed" not in again.stdout


def test_with_unsafe_fixes_both_names_and_their_import_go(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(dedent(CASES["two_names"][0]).lstrip("\n"), encoding="utf-8")
    proc = run_auditor("check", "--no-cache", "--select", "TRN409", "--fix", "--unsafe-fixes", str(path))
    assert proc.returncode == 0, proc.stdout
    assert path.read_text(encoding="utf-8") == dedent("""
        import torch

        scaler = torch.amp.GradScaler("cuda")
        with torch.amp.autocast("cuda"):
            out = model(x)
        """).lstrip("\n")
