"""Builder functions are read once per depth, not once per call (mode_layers).

A loss module whose helper calls itself or is called many times (`color_space_transform`, 27
calls in one real loss file) made the reading of the class exponential in the depth: a
pre-commit run hung on that one file. The count of readings is what is asserted, not time.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from auditor.analysis import mode_layers
from auditor.analysis.model import build_file_model

SOURCE = """
import torch
import torch.nn as nn


def transform(x, space):
    if space == "a":
        return transform(transform(transform(x, "b"), "c"), "d")
    if space == "b":
        return transform(transform(transform(x, "c"), "d"), "a")
    if space == "c":
        return transform(transform(transform(x, "d"), "a"), "b")
    return transform(transform(transform(x, "a"), "b"), "c")


class ColourLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = {layer}

    def forward(self, x, y):
        return (transform(self.drop(x), "a") - transform(y, "a")).abs().mean()
"""


def _dependence(layer: str, monkeypatch) -> tuple:
    model = build_file_model(cst.parse_module(textwrap.dedent(SOURCE.format(layer=layer))))
    readings = []
    original = mode_layers._calls_dependence

    def counted(*args, **kwargs):
        readings.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(mode_layers, "_calls_dependence", counted)
    answer = mode_layers.class_dependence(model, model.class_info["ColourLoss"])
    return answer, len(readings)


def test_a_self_calling_builder_is_read_once_per_depth(monkeypatch):
    (dependent, _), readings = _dependence("nn.Identity()", monkeypatch)
    assert dependent is False
    # 12 calls of `transform` in its own body, depth up to 6: 12**6 readings without the memo.
    assert readings < 50


def test_the_answer_still_sees_the_class_layers(monkeypatch):
    (dependent, what), _ = _dependence("nn.Dropout(0.5)", monkeypatch)
    assert dependent is True and "Dropout" in what
