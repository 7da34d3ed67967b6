"""TRN204 through a few-shot evaluation that fine-tunes a copy of the model on each task's
support set and scores its query set: its optimizer steps update the copy
(`net = copy.deepcopy(model)`), so by behaviour it evaluates, and run on the test tasks inside
meta-training with a decision on the score it is flagged. Look-alikes: the same evaluation on
validation tasks (test tasks once at the end), and a helper whose steps update the model it
is given (it trains). Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPERS = """
import copy
import torch
import torch.nn.functional as F

def meta_train_step(model, meta_opt, batch):
    meta_opt.zero_grad()
    F.cross_entropy(model(batch[0]), batch[1]).backward()
    meta_opt.step()

def finetune_and_eval(model, x_spt, y_spt, x_qry, y_qry, steps=10):
    net = copy.deepcopy(model)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x_spt), y_spt).backward()
        opt.step()
    with torch.no_grad():
        return (net(x_qry).argmax(1) == y_qry).float().mean().item()
"""

CASES = {
    # Bug: meta-test tasks scored every 500 steps; the best score keeps the checkpoint.
    "test_tasks_select.py": HELPERS + """
def main(model, meta_opt, train_tasks, test_tasks):
    best = 0
    for step, batch in enumerate(train_tasks):
        meta_train_step(model, meta_opt, batch)
        if step % 500 == 0:
            accs = []
            for x_s, y_s, x_q, y_q in test_tasks:
                accs.append(finetune_and_eval(model, x_s, y_s, x_q, y_q))
            acc = sum(accs) / len(accs)
            if acc > best:
                best = acc
                torch.save(model.state_dict(), "best.pt")
""",
    # Look-alike: validation tasks select; the test tasks are scored once after meta-training.
    "val_tasks_select.py": HELPERS + """
def main(model, meta_opt, train_tasks, val_tasks, test_tasks):
    best = 0
    for step, batch in enumerate(train_tasks):
        meta_train_step(model, meta_opt, batch)
        if step % 500 == 0:
            accs = []
            for x_s, y_s, x_q, y_q in val_tasks:
                accs.append(finetune_and_eval(model, x_s, y_s, x_q, y_q))
            acc = sum(accs) / len(accs)
            if acc > best:
                best = acc
                torch.save(model.state_dict(), "best.pt")
    return [finetune_and_eval(model, *task) for task in test_tasks]
""",
    # Look-alike: a helper that fine-tunes the model it is given trains it; not an evaluation.
    "adapts_the_model_itself.py": HELPERS + """
def adapt(model, x_spt, y_spt):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    opt.zero_grad()
    F.cross_entropy(model(x_spt), y_spt).backward()
    opt.step()
    return model(x_spt).argmax(1).eq(y_spt).float().mean().item()

def main(model, meta_opt, train_tasks, test_tasks):
    best = 0
    for step, batch in enumerate(train_tasks):
        meta_train_step(model, meta_opt, batch)
        for x_s, y_s, _, _ in test_tasks:
            acc = adapt(model, x_s, y_s)
            if acc > best:
                best = acc
""",
}

OFFSET = HELPERS.count("\n")
EXPECTED = {
    "test_tasks_select.py": [("TRN204", OFFSET + 8)],
    "val_tasks_select.py": [],
    "adapts_the_model_itself.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("finetune"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_finetune_evaluation(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
