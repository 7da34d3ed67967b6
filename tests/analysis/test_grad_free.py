"""grad_free.py: model classes whose forward turns gradients off by itself."""

from __future__ import annotations

import textwrap

import libcst as cst

from auditor.analysis.grad_free import grad_free_classes
from auditor.analysis.model import build_file_model

SOURCE = """
import torch
import torch.nn as nn


class Dispatching(nn.Module):
    @torch.no_grad()
    def inference(self, x):
        return self.head(x).sigmoid()

    def forward(self, x):
        if not self.trainable:
            return self.inference(x)
        return self.head(x)


class Decorated(nn.Module):
    @torch.inference_mode()
    def forward(self, x):
        return self.head(x)


class UnusedInference(nn.Module):
    @torch.no_grad()
    def inference(self, x):
        return self.head(x)

    def forward(self, x):
        return self.head(x)


class NotAModel:
    @torch.no_grad()
    def run(self, x):
        return x

    def forward(self, x):
        return self.run(x)
"""


def test_only_classes_whose_forward_turns_gradients_off():
    model = build_file_model(cst.parse_module(textwrap.dedent(SOURCE)))
    assert grad_free_classes(model) == ["Decorated", "Dispatching"]
