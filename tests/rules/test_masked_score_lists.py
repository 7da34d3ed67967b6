"""TRN204 in full-batch graph training whose evaluation helper scores every split in one
loop over a literal list of masks (`for mask in [data.train_mask, data.val_mask,
data.test_mask]: accs.append(...)`; `return accs`), or a comprehension over them: the caller's
`train_acc, val_acc, test_acc = test()` holds the test score in the third position. A
decision on it is flagged (error); the test score kept at the best validation epoch, or only
printed, is not. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = """
import torch
import torch.nn.functional as F
from torch_geometric.datasets import Planetoid

data = Planetoid("data", "Cora")[0]
model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)


def train():
    model.train()
    optimizer.zero_grad()
    out = model(data.x, data.edge_index)
    F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    optimizer.step()
"""

APPENDED = HEAD + """

@torch.no_grad()
def test():
    model.eval()
    pred = model(data.x, data.edge_index).argmax(dim=-1)
    accs = []
    for mask in [data.train_mask, data.val_mask, data.test_mask]:
        accs.append(int((pred[mask] == data.y[mask]).sum()) / int(mask.sum()))
    return accs
"""

COMPREHENSION = HEAD + """

@torch.no_grad()
def test():
    model.eval()
    logits = model(data.x, data.edge_index)
    return [(logits[m].argmax(1) == data.y[m]).float().mean().item()
            for m in (data.train_mask, data.val_mask, data.test_mask)]
"""

CASES = {
    # Bug: the checkpoint is kept on the best test accuracy.
    "appended_selects_on_test.py": APPENDED + """

best = 0
for epoch in range(200):
    train()
    train_acc, val_acc, test_acc = test()
    if test_acc > best:
        best = test_acc
        torch.save(model.state_dict(), "best.pt")
""",
    # Bug: early stopping on the test accuracy, scores from a comprehension.
    "comprehension_stops_on_test.py": COMPREHENSION + """

best, bad = 0, 0
for epoch in range(500):
    train()
    _, _, test_acc = test()
    if test_acc > best:
        best, bad = test_acc, 0
    else:
        bad += 1
    if bad > 50:
        break
""",
    # Look-alike (the PyG example): the test accuracy of the best validation epoch is kept.
    "test_at_best_validation.py": APPENDED + """

best_val_acc = final_test_acc = 0
for epoch in range(200):
    train()
    train_acc, val_acc, tmp_test_acc = test()
    if val_acc > best_val_acc:
        best_val_acc = val_acc
        final_test_acc = tmp_test_acc
""",
    # Look-alike: every split's accuracy only printed.
    "printed_only.py": COMPREHENSION + """

for epoch in range(200):
    train()
    train_acc, val_acc, test_acc = test()
    print(epoch, train_acc, val_acc, test_acc)
""",
}

EXPECTED = {
    "appended_selects_on_test.py": [("TRN204", 31)],
    "comprehension_stops_on_test.py": [("TRN204", 29)],
    "test_at_best_validation.py": [],
    "printed_only.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mask_lists"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_per_split_score_lists(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
