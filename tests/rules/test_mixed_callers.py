"""TRN101 across modules for a helper that also has a caller in its own file: the
context of the other module's call counts too (before, the file's own caller, whose model
mode is unknown, hid it). Fix-commit shape of LAION-AI/CLIP_benchmark 8d994cf: the CLI
left the model in training mode and called the metric helpers of another module.
Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

METRICS = """
import torch

def run_classification(model, classifier, loader, device):
    pred = []
    with torch.no_grad():
        for images, target in loader:
            feats = model(images.to(device))
            pred.append((feats @ classifier).cpu())
    return torch.cat(pred)

def evaluate(model, loader, classifier, device):
    return run_classification(model, classifier, loader, device)
"""

CLI = """
import torch
import torchvision
from metrics import run_classification

def run(args):
    model = torchvision.models.resnet50()
{switch}    loader = torch.utils.data.DataLoader(args.ds, batch_size=8, shuffle=False)
    return run_classification(model, args.clf, loader, args.device)
"""


def test_other_modules_call_counts_beside_the_files_own_caller(tmp_path):
    found = run_cases(tmp_path, {"metrics.py": METRICS, "cli.py": CLI.format(switch="")}, "TRN101")
    assert codes_lines(found["metrics.py"]) == [("TRN101", 7)]


def test_other_modules_call_in_eval_mode_stays_silent(tmp_path):
    found = run_cases(tmp_path, {"metrics.py": METRICS, "cli.py": CLI.format(switch="    model.eval()\n")}, "TRN101")
    assert found["metrics.py"] == []
