"""benchmarks/mutations plants one bug at a time into correct code and counts what is reported.

The operators are checked on small sources (each site, each look-alike that is not a site,
and code that still parses after the rewrite); the script runs end to end on a tiny git
repository with the real `auditor check`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from tests.conftest import REPO_ROOT, auditor_env
from tests.test_realcode_benchmark import _git, _repo_named

sys.path.insert(0, str(REPO_ROOT))
from benchmarks.mutations.operators import OPERATORS, find_sites, mutate  # noqa: E402

SCRIPT = REPO_ROOT / "benchmarks" / "mutations" / "run.py"

SOURCE = textwrap.dedent("""\
    import torch

    class Net(torch.nn.Module):
        def forward(self, x):
            h = self.body(x)
            return self.head(h)

    class Pair(torch.nn.Module):
        def forward(self, x):
            return x, x

    def train(model, opt, loader, accum):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            loss = model(x).sum()
            loss = loss / accum
            half = loss / 2
            loss.backward()
            opt.step()

    def evaluate(model, loader):
        model.eval()
        same = model.eval()
        model.train(False)
        with torch.no_grad():
            out = [model(x) for x, _ in loader]
        with torch.set_grad_enabled(is_training):
            pass
        return out

    @torch.no_grad()
    def predict(model, x):
        return model(x)

    val_loader = torch.utils.data.DataLoader(val_set, batch_size=8, shuffle=False)
    parts = train_test_split(rows, shuffle=False)
    """)


def _sites(name: str) -> list:
    return [site.line for site in find_sites(cst.parse_module(SOURCE), OPERATORS[name])]


@pytest.mark.parametrize("name, lines", [
    ("drop-eval", [23, 25]),          # `same = model.eval()` keeps its value: not a site
    ("drop-train", [13]),
    ("drop-zero-grad", [15]),
    ("drop-no-grad", [26]),           # set_grad_enabled(is_training) may enable: not a site
    ("drop-no-grad-decorator", [33]),
    ("drop-loss-division", [17]),     # `loss / 2` is a literal divisor: not an accumulation scale
    ("softmax-forward", [4]),         # a forward returning a tuple is left alone
    ("shuffle-loader", [36]),         # train_test_split's shuffle is not a loader's
])
def test_each_operator_finds_its_sites_and_not_the_look_alikes(name, lines):
    assert _sites(name) == lines


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_mutant_still_parses_and_differs(name):
    module = cst.parse_module(SOURCE)
    for site in find_sites(module, OPERATORS[name]):
        code = mutate(module, OPERATORS[name], site)
        assert code != SOURCE
        cst.parse_module(code)


def test_a_dropped_block_keeps_its_body_and_a_forward_ends_in_softmax():
    module = cst.parse_module(SOURCE)
    [block] = find_sites(module, OPERATORS["drop-no-grad"])
    unwrapped = mutate(module, OPERATORS["drop-no-grad"], block)
    assert "with torch.no_grad()" not in unwrapped and "    out = [model(x) for x, _ in loader]" in unwrapped
    [forward] = find_sites(module, OPERATORS["softmax-forward"])
    assert "return (self.head(h)).softmax(dim=-1)" in mutate(module, OPERATORS["softmax-forward"], forward)


TRAIN = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for epoch in range(3):
        model.train()
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()

    model.eval()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean()
    """)


def _run(tmp_path: Path, repo: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--clones", str(tmp_path / "clones"), "--repo", repo,
                           "--auditor", f"{sys.executable} -m auditor", "--out", str(tmp_path / "out.jsonl"),
                           *args], capture_output=True, text=True, env=auditor_env(), timeout=300)


def _make(tmp_path: Path, repo: str) -> str:
    where = tmp_path / "clones" / repo.replace("/", "+")
    where.mkdir(parents=True)
    _git(where, "init", "-q")
    (where / "train.py").write_text(TRAIN)
    _git(where, "add", "-A")
    _git(where, "commit", "-q", "-m", "one")
    return _git(where, "rev-parse", "HEAD")


def test_planted_bugs_are_counted_caught_and_a_redundant_removal_survives(tmp_path):
    repo = _repo_named("dev", "mut")
    commit = _make(tmp_path, repo)
    proc = _run(tmp_path, repo, "--operator", "drop-zero-grad", "--operator", "drop-eval", "--quiet")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    outcomes = {(r["operator"], r["line"]): r["outcome"] for r in records}
    # Without its zero_grad the loop accumulates gradients: TRN403 reports it. Either eval()
    # alone leaves the other one in place, so neither removal plants a bug: both survive.
    assert outcomes == {("drop-zero-grad", 10): "caught", ("drop-eval", 15): "survived",
                        ("drop-eval", 16): "survived"}
    assert all(r["repo"] == repo and r["commit"] == commit and r["path"] == "train.py" for r in records)
    assert "drop-zero-grad" in proc.stdout and "1.00" in proc.stdout


def test_a_held_out_repository_is_never_mutated(tmp_path):
    repo = _repo_named("heldout", "mut")
    _make(tmp_path, repo)
    proc = _run(tmp_path, repo)
    assert proc.returncode != 0
    assert "held-out" in proc.stderr and not (tmp_path / "out.jsonl").exists()
