"""Loss functions: their inputs and values go to the shared guards (TRN301/302/303, TRN407).

Loss modules (`nn.CrossEntropyLoss()`) call the functional form, so wrapping
`torch.nn.functional` sees both; the module's class name, noted by the forward pre-hook,
names the loss in the message when there is one.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import torch

from reference_loop.script_audit.frames import user_frame, where_of
from reference_loop.script_audit.optim import note_caller
from reference_loop.script_audit.patching import Patches
from reference_loop.script_audit.state import State

WATCHED = ("cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "binary_cross_entropy",
           "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss")

KNOWN_MODULES = ("CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss")


def install(st: State, patches: Patches) -> None:
    functional = torch.nn.functional
    guards = st.guards
    located: set = set()

    def make(name: str, original: Any) -> Any:
        @functools.wraps(original)
        def loss(input: Any, target: Any = None, *args: Any, **kwargs: Any) -> Any:
            if st.in_loss or not st.active:
                return original(input, target, *args, **kwargs)
            st.in_loss = True
            try:
                out = original(input, target, *args, **kwargs)
            finally:
                st.in_loss = False
            module = st.loss_module
            label = type(module).__name__ if module is not None else name
            if label not in KNOWN_MODULES:
                label = name  # a subclass or wrapper: judge it as the function it calls
            where = None
            if label not in located:  # the guards keep the first location: find it once per loss
                located.add(label)
                frame = user_frame(2)
                where = where_of(frame)
                note_caller(st, frame)
            if isinstance(input, torch.Tensor):
                guards.on_loss_inputs(label, input, target, where=where)
            if isinstance(out, torch.Tensor):
                guards.on_loss_value(out, where=where)
                st.last_loss = weakref.ref(out)  # its backward() needs no second finiteness check
            return out

        return loss

    for name in WATCHED:
        original = getattr(functional, name, None)
        if original is not None:
            patches.replace(functional, name, make(name, original))
