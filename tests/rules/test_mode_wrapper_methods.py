"""TRN101/TRN103 through the methods of a plain wrapper object handed to functions as a
parameter: research code keeps its networks in an object (`self.net`, an encoder pair) and
switches them with its own methods (`model.eval_mode()`, `model.val_start()`); the object
is built in `main` and handed to `validate(model, loader)` and `train(model, loader)`, where
its class is unknown. The call is read as the file's one method of that name, so its switch
reaches `model.net` (no TRN101 on the validation after `model.eval_mode()`), and the mode of
`model.net` reaches the wrapper's own training step (TRN103 when a periodic validation left
it in eval mode). Each bug beside its look-alike, through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

WRAPPER = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 10)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        return self.drop(self.fc(x))


class Model(object):
    def __init__(self):
        self.net = Encoder()
        self.opt = torch.optim.Adam(self.net.parameters())

    def train_mode(self):
        self.net.train()

    def eval_mode(self):
        self.net.eval()

    def learn(self, x, y):
        loss = ((self.net(x) - y) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def validate(model, val_loader):
    {switch}
    return sum(((model.net(x) - y) ** 2).mean().item() for x, y in val_loader)


def main(train_loader, val_loader):
    model = Model()
    model.train_mode()
    for epoch in range(10):
        {top}
        for i, (x, y) in enumerate(train_loader):
            model.learn(x, y)
            if i % 100 == 0:
                validate(model, val_loader)
"""

CASES = {
    # validate switches through the wrapper and nothing switches back: TRN103 in learn().
    "periodic_eval.py": WRAPPER.format(switch="model.eval_mode()", top="pass"),
    # validate switches and restores training mode itself: correct.
    "restored.py": WRAPPER.format(switch="model.eval_mode()", top="pass").replace(
        "    return sum(((model.net(x) - y) ** 2).mean().item() for x, y in val_loader)",
        "    loss = sum(((model.net(x) - y) ** 2).mean().item() for x, y in val_loader)\n"
        "    model.train_mode()\n    return loss"),
    # validate never switches: the evaluation runs with dropout on (TRN101), training is fine.
    "never_switched.py": WRAPPER.format(switch="pass", top="pass"),
}


def test_wrapper_methods_on_a_parameter(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN101,TRN103")
    learn_step = WRAPPER.splitlines().index("        self.opt.step()")
    assert codes_lines(found["periodic_eval.py"]) == [("TRN103", learn_step)]
    assert codes_lines(found["restored.py"]) == []
    evaluated = WRAPPER.splitlines().index("    return sum(((model.net(x) - y) ** 2).mean().item() for x, y in val_loader)")
    assert codes_lines(found["never_switched.py"]) == [("TRN101", evaluated)]
