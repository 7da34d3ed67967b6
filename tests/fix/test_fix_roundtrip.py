"""Every fix, safe and unsafe, as a round trip through `auditor check --fix`."""

from __future__ import annotations

from tests.fix._roundtrip import dedent, fix, round_trip
from tests.conftest import write

SAFE_CASES = {
    "super_init": ("TRN501", """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        \"\"\"A small net.\"\"\"
        # the only layer
        self.fc = nn.Linear(width, 2)  # logits
""", """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width):
        \"\"\"A small net.\"\"\"
        super().__init__()
        # the only layer
        self.fc = nn.Linear(width, 2)  # logits
"""),
    "dropout_training": ("TRN502", """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def forward(self, x):
        x = F.dropout(x, 0.5)  # regularize
        return F.dropout(
            x,
            p=0.1,
        )
""", """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def forward(self, x):
        x = F.dropout(x, 0.5, training=self.training)  # regularize
        return F.dropout(
            x,
            p=0.1,
            training=self.training,
        )
"""),
    "unscale_before_clip": ("TRN406", """
import torch

scaler = torch.amp.GradScaler("cuda")
for x, y in loader:
    scaler.scale(criterion(model(x), y)).backward()
    # keep updates bounded
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)
    scaler.update()
""", """
import torch

scaler = torch.amp.GradScaler("cuda")
for x, y in loader:
    scaler.scale(criterion(model(x), y)).backward()
    # keep updates bounded
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)
    scaler.update()
"""),
    "detach_running_loss": ("TRN405", """
import torch

for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    total += loss * len(x)
""", """
import torch

for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    total += loss.detach() * len(x)
"""),
    # the total is read as a tensor after the loop: `.detach()` keeps that working (`.item()`
    # would turn it into a float and `total.item()` would raise)
    "detach_total_read_as_tensor": ("TRN405", """
import torch

def train(model, loader, optimizer):
    criterion = torch.nn.CrossEntropyLoss()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total = total + loss
    return total.item() / len(loader)
""", """
import torch

def train(model, loader, optimizer):
    criterion = torch.nn.CrossEntropyLoss()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total = total + loss.detach()
    return total.item() / len(loader)
"""),
    "autocast": ("TRN409", """
import torch

with torch.cuda.amp.autocast(enabled=use_amp):
    out = model(x)
""", """
import torch

with torch.amp.autocast("cuda", enabled=use_amp):
    out = model(x)
"""),
}

UNSAFE_CASES = {
    # Unsafe: a file holding a whole module or other pickled objects no longer loads.
    "weights_only": ("TRN602", """
import torch

state = torch.load("ckpt.pt")  # resume
other = torch.load("other.pt", map_location="cpu")
""", """
import torch

state = torch.load("ckpt.pt", weights_only=True)  # resume
other = torch.load("other.pt", map_location="cpu", weights_only=True)
"""),
    "save_state_dict": ("TRN601", """
import torch

torch.save(model, "model.pt")  # checkpoint
""", """
import torch

torch.save(model.state_dict(), "model.pt")  # checkpoint
"""),
    "scheduler_after_step": ("TRN404", """
import torch

for epoch in range(3):
    scheduler.step()  # decay
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    print(epoch)
""", """
import torch

for epoch in range(3):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    scheduler.step()  # decay
    print(epoch)
"""),
    "forward_call": ("TRN504", """
import torch

logits = model.forward(images)
""", """
import torch

logits = model(images)
"""),
    "checkpoint_non_reentrant": ("TRN410", """
from torch.utils.checkpoint import checkpoint

y = checkpoint(block, x)  # saves memory
""", """
from torch.utils.checkpoint import checkpoint

y = checkpoint(block, x, use_reentrant=False)  # saves memory
"""),
    # `criterion` is not known to return a tensor: `.detach()` is offered, but only as unsafe
    "detach_unknown_criterion": ("TRN405", """
def train(model, loader, optimizer, criterion, reg):
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        (loss + reg(model)).backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss
    return float(total)
""", """
def train(model, loader, optimizer, criterion, reg):
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        (loss + reg(model)).backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss.detach()
    return float(total)
"""),
    "grad_scaler": ("TRN409", """
import torch

scaler = torch.cuda.amp.GradScaler(init_scale=1024)
""", """
import torch

scaler = torch.amp.GradScaler("cuda", init_scale=1024)
"""),
}


def test_safe_fixes_round_trip(tmp_path):
    round_trip(tmp_path, SAFE_CASES)


def test_unsafe_fixes_round_trip(tmp_path):
    round_trip(tmp_path, UNSAFE_CASES, unsafe=True)


def test_unsafe_fixes_need_the_flag_and_remaining_findings_are_reported(tmp_path):
    for name, (_, before, _) in UNSAFE_CASES.items():
        write(tmp_path, f"{name}.py", before)
    write(tmp_path, "mixed.py", """
import torch

torch.save(model, "model.pt")
state = torch.load("model.pt")
loader = torch.utils.data.DataLoader(val_ds, shuffle=True)
""")
    # The remaining TRN601 is a warning: --fail-on warning makes it fail the run.
    proc = fix(tmp_path, "TRN203,TRN404,TRN405,TRN409,TRN504,TRN601,TRN602", "--fail-on", "warning")
    for name, (_, before, _) in UNSAFE_CASES.items():
        assert (tmp_path / f"{name}.py").read_text() == dedent(before)
    # Only the safe fix (TRN203's shuffle=False) is applied; TRN601 and TRN602 wait for the flag.
    assert (tmp_path / "mixed.py").read_text() == dedent("""
import torch

torch.save(model, "model.pt")
state = torch.load("model.pt")
loader = torch.utils.data.DataLoader(val_ds, shuffle=False)
""")
    assert proc.returncode == 1
    assert "mixed.py:3:12: TRN601" in proc.stdout and "mixed.py:4:9: TRN602" in proc.stdout
    assert "TRN203" not in proc.stdout
    assert "fixed 1" in proc.stdout


def test_fix_keeps_crlf_encoding_bom_and_mode(tmp_path):
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(b"import torch\r\n\r\n# load\r\nstate = torch.load('a.pt')\r\n")
    latin = tmp_path / "latin.py"
    latin.write_bytes("# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nstate = torch.load('a.pt')\n"
                      .encode("latin-1"))
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfimport torch\nstate = torch.load('a.pt')\n")
    bom.chmod(0o750)
    fix(tmp_path, "TRN602", "--unsafe-fixes")  # TRN602's fix is unsafe
    assert crlf.read_bytes() == b"import torch\r\n\r\n# load\r\nstate = torch.load('a.pt', weights_only=True)\r\n"
    assert latin.read_bytes() == ("# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\n"
                                  "state = torch.load('a.pt', weights_only=True)\n").encode("latin-1")
    assert bom.read_bytes() == b"\xef\xbb\xbfimport torch\nstate = torch.load('a.pt', weights_only=True)\n"
    assert bom.stat().st_mode & 0o777 == 0o750
    # No temporary files left behind (a cache directory may be there).
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["bom.py", "crlf.py", "latin.py"]


def test_fix_leaves_suppressed_findings_alone(tmp_path):
    write(tmp_path, "kept.py", """
import torch

state = torch.load("a.pt")  # noqa: TRN602
""")
    fix(tmp_path, "TRN602")
    assert "weights_only" not in (tmp_path / "kept.py").read_text()
