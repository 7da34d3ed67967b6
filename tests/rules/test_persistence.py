"""TRN601-TRN603 through the real command: the bugs, and the correct code that looks like them."""

from __future__ import annotations

import pytest

from tests.rules._cases import check_cases, codes

CASES = {
    # TRN601
    "save_module": """
import torch
import torch.nn as nn

class Net(nn.Module):
    pass

net = Net()
torch.save(net, "net.pt")
torch.save(model, "model.pt")
torch.save({"model": model, "epoch": 3}, "ckpt.pt")
""",
    "save_state": """
import copy
import torch

torch.save(model.state_dict(), "model.pt")
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, "ckpt.pt")
best_model = copy.deepcopy(model.state_dict())
torch.save(best_model, "best.pt")
model_state = {k: v.cpu() for k, v in model.state_dict().items()}
torch.save(model_state, "cpu.pt")
torch.save(tensor, "t.pt")
""",
    # TRN602
    "load_unsafe": """
import torch

a = torch.load("a.pt")
b = torch.load("b.pt", map_location="cpu", weights_only=False)
""",
    "load_safe": """
import torch

a = torch.load("a.pt", weights_only=True)
b = torch.load("b.pt", **load_kwargs)
c = pickle_free.load("c.pt")
""",
    # TRN603
    "cuda_hardcoded": """
import torch

model = model.cuda()
x = x.to("cuda")
device = torch.device("cuda:0")
y = torch.zeros(3, device="cuda")
""",
    "cuda_with_arguments": """
import torch

def step(model, x, y):
    x, y = x.cuda(non_blocking=True), y.cuda(0)
    return model(x)
""",
    "cuda_fallback_conditional": """
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = model.to(device)
x = x.cuda()
""",
    "cuda_configurable": """
import argparse
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cuda")
with torch.autocast(device_type="cuda"):
    pass
x = x.to(args.device)
""",
    # Real-world look-alikes: `.cuda()` in a branch whose condition is about CUDA is a choice;
    # the same call next to an unrelated condition is still hard-coded.
    "cuda_under_cuda_condition": """
import torch

def move(x, args, use_cuda):
    if x.is_cuda:
        x = x.half().cuda()
    if args.cuda:
        model.cuda()
    elif use_gpu:
        model.cuda()
    y = x.cuda() if use_cuda else x
    return y
""",
    # Device literals in a branch about CUDA are a choice too (the branch is only looked at
    # for calls that would otherwise be reported).
    "cuda_literal_under_cuda_condition": """
import torch

def move(x, args):
    if args.cuda:
        x = x.to("cuda")
        y = torch.zeros(3, device="cuda:0")
    z = torch.ones(3, device="cuda")
    return x
""",
    "cuda_under_other_condition": """
import torch

def move(x, args):
    if args.fp16:
        x = x.half().cuda()
    return x
""",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return check_cases(tmp_path_factory.mktemp("persistence"), CASES, "TRN601,TRN602,TRN603")


@pytest.mark.parametrize("case, expected", [
    ("save_module", ["TRN601", "TRN601", "TRN601"]),
    ("save_state", []),
    ("load_unsafe", ["TRN602", "TRN602"]),
    ("load_safe", []),
    ("cuda_hardcoded", ["TRN603"] * 4),
    ("cuda_with_arguments", ["TRN603"] * 2),
    ("cuda_fallback_conditional", []),
    ("cuda_configurable", []),
    ("cuda_under_cuda_condition", []),
    ("cuda_literal_under_cuda_condition", ["TRN603"]),
    ("cuda_under_other_condition", ["TRN603"]),
])
def test_findings(found, case, expected):
    assert codes(found[case]) == expected, found[case]


def test_load_fix_adds_weights_only_only_when_missing(found):
    missing, explicit = found["load_unsafe"]
    # Unsafe: whole pickled modules, datasets and config objects do not load with it.
    assert missing["fix"]["applicability"] == "unsafe"
    assert missing["fix"]["edits"][0]["content"].endswith("weights_only=True")
    assert explicit["fix"] is None  # weights_only=False was a choice: no automatic change


def test_whole_model_save_fix_is_unsafe(found):
    assert all(f["fix"]["applicability"] == "unsafe" for f in found["save_module"])


def test_load_docs_name_the_torch_version_that_changed_the_default():
    from rules.persistence import UnsafeTorchLoad

    assert "2.6" in UnsafeTorchLoad().docs()
