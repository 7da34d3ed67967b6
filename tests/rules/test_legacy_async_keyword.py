"""Python 3.6-era training code (`x.cuda(async=True)`, renamed `non_blocking` in PyTorch 0.4)
is refused by Python 3.7+ for that word alone: it is reported (TRN000) and still checked."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

LOOP = """
import torch
from torchvision import datasets

def train(loader, model, criterion, optimizer):
    model.train()
    for x, y in loader:
        y = y.cuda(async=True)
        loss = criterion(model(x.cuda()), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def validate(loader, model):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            y = y.cuda(async=True)
            out = model(x)
    return 1.0

def main(model, criterion, optimizer):
    train_loader = torch.utils.data.DataLoader(datasets.CIFAR10('data', train=True), batch_size=64, shuffle=True)
    val_loader = torch.utils.data.DataLoader(SPLIT, batch_size=64)
    best = 0
    for epoch in range(10):
        train(train_loader, model, criterion, optimizer)
        prec = validate(val_loader, model)
        if prec > best:
            best = prec
            torch.save(model.state_dict(), 'best.pt')
"""

CASES = {
    # The test split chooses the checkpoint: found although the file is Python 3.6 code.
    "old_test_selects.py": LOOP.replace("SPLIT", "datasets.CIFAR10('data', train=False)"),
    # Look-alike: the validation data is a split of the training set.
    "old_validation_selects.py": LOOP.replace("SPLIT", "held_out_part_of_train"),
    # A file broken for another reason stays a syntax error and nothing else.
    "old_and_broken.py": "import torch\nx = y.cuda(async=True)\ndef f(:\n    pass\n",
}

EXPECTED = {
    "old_test_selects.py": [("TRN000", 7), ("TRN204", 27)],
    "old_validation_selects.py": [("TRN000", 7)],
    "old_and_broken.py": [("TRN000", 2)],
}


def test_async_argument_name_is_reported_and_the_file_still_checked(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN0,TRN204")
    assert {name: codes_lines(found[name]) for name in CASES} == EXPECTED
