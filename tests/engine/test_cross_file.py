"""Cross-file knowledge survives the engine's shortcuts: workers, the cache, early rule runs.

A helper learns the mode it is called in from the file that imports it, so a helper's
findings change when its caller changes (knowledge flows against the import).
"""

from __future__ import annotations

import os

from tests.engine.helpers import PLAIN, files_of, flat, run, write
from auditor.cache import Cache

ENGINE = """
import torch

@torch.no_grad()
def evaluate(model, loader):
    return [model(x) for x, _ in loader]
"""
TRAIN = """
import torch
from .engine import evaluate

def fit(model, train_loader, val_loader, opt):
    for epoch in range(3):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        {switch}evaluate(model, val_loader)
"""


def _project(root, switch=""):
    write(root, "pkg/__init__.py", "")
    write(root, "pkg/engine.py", ENGINE)
    write(root, "pkg/train.py", TRAIN.replace("{switch}", switch))
    for i in range(20):  # enough files for several workers
        write(root, f"pkg/other_{i}.py", PLAIN + "import torch\n")


def _helper_codes(results):
    return [f.code for r in results if r.path.endswith("engine.py") for f in r.findings]


def test_the_helper_sees_its_caller_in_every_mode(tmp_path):
    root = tmp_path / "p"
    _project(root)
    paths = files_of(root)
    one = run(paths)
    assert _helper_codes(one) == ["TRN101"]
    assert flat(run(paths, jobs=2)) == flat(one)
    cache = str(tmp_path / "cache")
    assert flat(run(paths, jobs=2, cache=Cache(cache, "s"))) == flat(one)
    assert flat(run(paths, cache=Cache(cache, "s"))) == flat(one)


def test_editing_the_caller_rechecks_the_unchanged_helper(tmp_path):
    root = tmp_path / "p"
    _project(root)
    paths = files_of(root)
    cache = str(tmp_path / "cache")
    assert _helper_codes(run(paths, cache=Cache(cache, "s"))) == ["TRN101"]
    write(root, "pkg/train.py", TRAIN.replace("{switch}", "model.eval()\n        "))
    assert _helper_codes(run(paths, cache=Cache(cache, "s"))) == []
    assert _helper_codes(run(paths)) == []


MODELS = """
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return {output}
"""
FIT = """
import torch.nn as nn
from .models import Net

model = Net()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
"""


def _fit_codes(results):
    return [f.code for r in results if r.path.endswith("fit.py") for f in r.findings if f.code.startswith("TRN3")]


def test_a_model_class_of_another_module_reaches_the_loss_through_the_cache(tmp_path):
    # The summary of models.py says its forward ends in a softmax; editing only models.py
    # rechecks the unchanged fit.py, in one process or several, from the cache or not.
    root = tmp_path / "p"
    write(root, "pkg/__init__.py", "")
    write(root, "pkg/models.py", MODELS.replace("{output}", "F.softmax(self.fc(x), dim=1)"))
    write(root, "pkg/fit.py", FIT)
    for i in range(20):
        write(root, f"pkg/other_{i}.py", PLAIN + "import torch\n")
    paths = files_of(root)
    cache = str(tmp_path / "cache")
    assert _fit_codes(run(paths, cache=Cache(cache, "s"))) == ["TRN301"]
    assert flat(run(paths, jobs=2)) == flat(run(paths))
    write(root, "pkg/models.py", MODELS.replace("{output}", "self.fc(x)"))
    assert _fit_codes(run(paths, cache=Cache(cache, "s"))) == []
    assert _fit_codes(run(paths, jobs=2)) == []


def test_a_warm_run_of_one_file_parses_neither_it_nor_its_neighbours(tmp_path, monkeypatch):
    # Pre-commit names train.py alone: engine.py is read through its cached summary.
    import auditor.engine as engine
    from auditor.engine import EngineOptions, check_files
    from auditor.neighbours import neighbour_scope
    from rules import ALL_RULES

    root = tmp_path / "p"
    write(root, "pyproject.toml", "")
    _project(root)
    named = [str(root / "pkg" / "engine.py")]
    cache = str(tmp_path / "cache")

    def check():
        scope = neighbour_scope(named, [], (), (".py",))
        return check_files(named, EngineOptions(rules=ALL_RULES, cache=Cache(cache, "s"), neighbours=scope))

    assert _helper_codes(check()) == ["TRN101"]
    parsed = []
    original = engine.prepare
    monkeypatch.setattr(engine, "prepare", lambda path, *a, **k: parsed.append(path) or original(path, *a, **k))
    assert _helper_codes(check()) == ["TRN101"]
    assert parsed == []
    write(root, "pkg/train.py", TRAIN.replace("{switch}", "model.eval()\n        "))
    assert _helper_codes(check()) == []
    assert sorted(os.path.basename(p) for p in parsed) == ["engine.py", "train.py"]


def test_a_module_name_held_by_several_script_directories_means_the_one_beside_each_file(tmp_path):
    # examples/a and examples/b each hold utils.py (`evaluate`) and train.py calling it:
    # a's caller trains, b's caller evaluates. Each helper learns its own caller's mode
    # and each script sees its own model class, in one process or several, cached or not.
    root = tmp_path / "p"
    flat_engine = ENGINE.replace("@torch.no_grad()\n", "")
    for name, switch in (("a", ""), ("b", "model.eval()\n        with torch.no_grad():\n            ")):
        write(root, f"{name}/utils.py", flat_engine)
        write(root, f"{name}/train.py", TRAIN.replace("from .engine", "from utils").replace("{switch}", switch))
        write(root, f"{name}/models.py", MODELS.replace("{output}", "F.softmax(self.fc(x), dim=1)" if name == "b"
                                                       else "self.fc(x)"))
        write(root, f"{name}/fit.py", FIT.replace("from .models", "from models"))
    for i in range(20):
        write(root, f"other_{i}.py", PLAIN + "import torch\n")
    paths = files_of(root)

    def codes(results):
        return sorted((os.path.relpath(r.path, root), f.code) for r in results for f in r.findings)

    expected = [("a/utils.py", "TRN101"), ("a/utils.py", "TRN102"), ("b/fit.py", "TRN301")]
    assert codes(run(paths)) == expected
    assert codes(run(paths, jobs=2)) == expected
    cache = str(tmp_path / "cache")
    assert codes(run(paths, jobs=2, cache=Cache(cache, "s"))) == expected
    assert codes(run(paths, cache=Cache(cache, "s"))) == expected


LAYERED = """
import torch.nn as nn

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), {layer})

    def forward(self, x):
        return self.body(x)
"""
SAMPLE = """
import torch
from models import *

generator = Generator()
opt = torch.optim.Adam(generator.parameters())


def sample_images(step):
    x_val = next(iter(val_loader))
    samples = generator(x_val)
    torch.save(samples, f"samples_{step}.pt")


for step, x in enumerate(train_loader):
    opt.zero_grad()
    generator(x).mean().backward()
    opt.step()
    sample_images(step)
"""


def test_a_model_class_held_by_several_script_directories_means_the_one_beside_each_file(tmp_path):
    # gan_a and gan_b each hold models.py with a `Generator`: a's has batch norm (train mode
    # changes its output: an error), b's has neither dropout nor batch norm (harmless: info).
    # Each script must see its own class, not the last models.py of the run.
    root = tmp_path / "p"
    for name, layer in (("gan_a", "nn.BatchNorm1d(4)"), ("gan_b", "nn.ReLU()")):
        write(root, f"{name}/models.py", LAYERED.replace("{layer}", layer))
        write(root, f"{name}/sample.py", SAMPLE)
    paths = files_of(root)

    def severities(results):
        return sorted((os.path.relpath(r.path, root), f.severity.name.lower()) for r in results for f in r.findings
                      if f.code == "TRN101")

    expected = [("gan_a/sample.py", "error"), ("gan_b/sample.py", "info")]
    assert severities(run(paths)) == expected
    assert severities(run(list(reversed(paths)))) == expected  # whichever models.py comes last
    assert severities(run(paths, jobs=2)) == expected
