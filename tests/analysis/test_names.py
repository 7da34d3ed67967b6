"""Qualified-name matching: re-export paths match, same-named functions elsewhere do not."""

from __future__ import annotations

import pytest

from auditor.analysis.names import matches


@pytest.mark.parametrize("qualified, candidate", [
    ("torch.load", "torch.load"),
    ("torch.serialization.load", "torch.load"),
    ("torch.nn.modules.loss.CrossEntropyLoss", "torch.nn.CrossEntropyLoss"),
    ("torch.utils.data.dataloader.DataLoader", "torch.utils.data.DataLoader"),
    ("sklearn.preprocessing._data.StandardScaler", "sklearn.preprocessing.StandardScaler"),
])
def test_public_and_implementation_paths_match(qualified, candidate):
    assert matches(qualified, candidate)


@pytest.mark.parametrize("qualified, candidate", [
    ("torch.jit.load", "torch.load"),
    ("torch.hub.load", "torch.load"),
    ("torch.distributed.checkpoint.load", "torch.load"),
    ("torch.utils.cpp_extension.load", "torch.load"),
    ("torch.jit.save", "torch.save"),
    ("torch.distributed.checkpoint.save", "torch.save"),
    ("torch.cuda.device", "torch.device"),
    ("torch.cuda.amp.GradScaler", "torch.amp.GradScaler"),
    ("torchvision.load", "torch.load"),
    (None, "torch.load"),
])
def test_other_functions_with_the_same_name_do_not(qualified, candidate):
    assert not matches(qualified, candidate)


def test_whole_command_leaves_jit_and_hub_loads_alone(project):
    from tests.conftest import check_json, write

    write(project, "load.py", """
        import torch
        import torch.distributed.checkpoint as dcp

        scripted = torch.jit.load("model.pt")
        hub_model = torch.hub.load("repo", "model")
        dcp.save(state, checkpoint_id="ckpt")
        torch.jit.save(scripted, "out.pt")
        weights = torch.load("weights.pt")
        """)
    data, _ = check_json("load.py", "--select", "TRN601,TRN602", cwd=project)
    assert [(f["code"], f["line"]) for f in data["findings"]] == [("TRN602", 8)]


def test_several_candidates_match_any_of_them_and_nothing_else():
    # `matches` splits each tuple of candidates once and reuses it: same answers on reuse.
    candidates = ("torch.no_grad", "torch.autograd.grad_mode.no_grad", "torch.inference_mode")
    for _ in range(2):
        assert matches("torch.no_grad", *candidates)
        assert matches("torch.autograd.grad_mode.no_grad", *candidates)
        assert matches("torch.autograd.grad_mode.impl.no_grad", *candidates)  # below a dotted module
        assert matches("torch.random.inference_mode", *candidates)  # a home of torch's top-level names
        assert not matches("torch.autograd.grad_mode.inference_mode", *candidates)
        assert not matches("torch.autograd.no_grad", *candidates)
        assert not matches("torch.enable_grad", *candidates)
        assert not matches(None, *candidates)
    assert not matches("torch.no_grad")
