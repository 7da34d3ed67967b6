"""TRN204 when the test split reaches the evaluation inside a dataset class of the user's own
that wraps it (`DatasetWrapper(CIFAR100(root, train=False))`): a class whose constructor keeps
the dataset it is handed and whose `__getitem__` indexes it serves that dataset's rows, so it
holds its split, whatever the class is called; also when a loader factory of another module
(whose text never says "test") returns it in the validation position.

Look-alikes: the same wrapper around validation rows carved from the training set; a class
that is handed the test set but serves rows of its own (not a wrapper). Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

WRAPPER = """
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import datasets


class DatasetWrapper(Dataset):
    def __init__(self, dataset, indices=None):
        self.base_dataset = dataset
        self.indices = list(range(len(dataset))) if indices is None else indices

    def __getitem__(self, i):
        return self.base_dataset[self.indices[i]]

    def __len__(self):
        return len(self.indices)
"""

FACTORY = WRAPPER + """

def load_dataset(root, batch_size):
    trainset = DatasetWrapper(datasets.CIFAR10(root, train=True))
    valset = DatasetWrapper({held_out})
    return DataLoader(trainset, batch_size, shuffle=True), DataLoader(valset, batch_size)
"""

MAIN = """
import torch
from {module} import load_dataset


def main(net, optimizer):
    trainloader, valloader = load_dataset("data", 64)
    best_val = 0
    for epoch in range(10):
        net.train()
        for x, y in trainloader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for x, y in valloader:
                correct += (net(x).argmax(1) == y).sum().item()
        if correct > best_val:
            best_val = correct
            torch.save(net.state_dict(), "best.pt")
"""

SAME_FILE = """
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets

{classes}

def main(net, optimizer, train_loader):
    held = {wrapper}(datasets.CIFAR10("data", train=False))
    loader = DataLoader(held, batch_size=100)
    best = 0
    for epoch in range(10):
        net.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for x, y in loader:
                correct += (net(x).argmax(1) == y).sum().item()
        if correct > best:
            best = correct
            torch.save(net.state_dict(), "best.pt")
"""

NOT_A_WRAPPER = """
class NoiseLike(Dataset):
    def __init__(self, dataset):
        self.size = len(dataset)

    def __getitem__(self, i):
        return torch.randn(3, 32, 32), 0

    def __len__(self):
        return self.size
"""

CASES = {
    # Bug: the factory of another module wraps the CIFAR test set and returns it as `valloader`.
    "xmod/loaders.py": FACTORY.format(held_out='datasets.CIFAR10(root, train=False)'),
    "xmod/main.py": MAIN.format(module="loaders"),
    # Look-alike: the wrapped validation rows are carved from the training set.
    "xmod_ok/loaders_ok.py": FACTORY.format(held_out='Subset(datasets.CIFAR10(root, train=True), range(45000, 50000))'),
    "xmod_ok/main.py": MAIN.format(module="loaders_ok"),
    # Bug: a neutral name for the wrapped test set, evaluated and decided on in the loop.
    "same_file_bug.py": SAME_FILE.format(classes=WRAPPER.split("\n", 4)[4],
                                         wrapper="DatasetWrapper"),
    # Look-alike: a class handed the test set that serves rows of its own is no wrapper.
    "not_wrapper_ok.py": SAME_FILE.format(classes=NOT_A_WRAPPER, wrapper="NoiseLike"),
}

EVAL_LINE = MAIN.lstrip("\n").splitlines().index("                correct += (net(x).argmax(1) == y).sum().item()") + 1
SAME_FILE_LINE = SAME_FILE.format(classes=WRAPPER.split("\n", 4)[4],
                                  wrapper="DatasetWrapper").lstrip("\n").splitlines().index(
    "                correct += (net(x).argmax(1) == y).sum().item()") + 1


def test_wrapped_test_split_from_another_modules_factory(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["xmod/main.py"]) == [("TRN204", EVAL_LINE)]
    assert [f["severity"] for f in found["xmod/main.py"]] == ["error"]
    assert found["xmod_ok/main.py"] == []
    assert found["xmod/loaders.py"] == found["xmod_ok/loaders_ok.py"] == []


def test_wrapped_test_split_under_a_neutral_name(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["same_file_bug.py"]) == [("TRN204", SAME_FILE_LINE)]
    assert found["not_wrapper_ok.py"] == []
