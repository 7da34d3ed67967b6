"""TRN204 through a loader factory of the same file: the position of its returned tuple says
which split a name holds, whatever the caller calls it (`training_data, validation_data =
prepare_dataloader(opt)` where the function returns `trainloader, testloader`; `loaders[-1]`
after `loaders = load_data(...)` returning `..., loader_tar_test`). A factory that returns the test
data in that position on one path only counts as a copy of the test split does (error when
it decides), and so does one that hands the validation data back as the test data too
(`test_set = val_set`); so does a function of another module of the project, read from its summary.
Look-alikes: the position holds validation data, the test position is only printed or read
after training. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HELPERS = """
import torch
from torch.utils.data import DataLoader

def train_epoch(model, loader, opt):
    for x, y in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""

CASES = {
    # Bug (Pyraformer's single-step script): the factory returns the train and TEST loaders,
    # the caller names the second one validation data and keeps the best epoch on it.
    "renamed_test_position_selects.py": HELPERS + """
def prepare_dataloader(opt):
    trainloader = DataLoader(opt.train_set, batch_size=1, shuffle=True)
    testloader = DataLoader(opt.test_set, batch_size=1)
    return trainloader, testloader

def train(model, opt, args):
    best = 0
    for epoch in range(args.epochs):
        training_data, validation_data = prepare_dataloader(args)
        train_epoch(model, training_data, opt)
        acc = evaluate(model, validation_data)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
""",
    # Bug (DSAN): the last loader of the returned tuple is the target test loader, read by index.
    "indexed_test_position_stops.py": HELPERS + """
def load_data(root):
    loader_src = DataLoader(root.src, batch_size=32, shuffle=True)
    loader_tar_test = DataLoader(root.tar_test, batch_size=32)
    return loader_src, loader_tar_test

def main(args, model, opt):
    dataloaders = load_data(args.root)
    correct, stop = 0, 0
    for epoch in range(args.epochs):
        train_epoch(model, dataloaders[0], opt)
        t_correct = evaluate(model, dataloaders[-1])
        if t_correct > correct:
            correct, stop = t_correct, 0
        if stop >= args.early_stop:
            break
""",
    # Look-alike: the position holds a validation loader; the test loader is scored after training.
    "validation_position_selects.py": HELPERS + """
def get_loaders(opt):
    train_loader = DataLoader(opt.train_set, shuffle=True)
    val_loader = DataLoader(opt.val_set)
    test_loader = DataLoader(opt.test_set)
    return train_loader, val_loader, test_loader

def main(args, model, opt):
    loaders = get_loaders(args)
    tr, held, final = get_loaders(args)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, tr, opt)
        acc = evaluate(model, held)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
        if evaluate(model, loaders[1]) > best:
            break
    print(evaluate(model, final), evaluate(model, loaders[-1]))
""",
    # Bug: on the path without validation data the factory hands back the test loader in the
    # validation position (as `val_set = test_set` would): the best epoch is chosen on it there.
    "returns_test_on_one_path.py": HELPERS + """
def prepare(opt):
    train_loader = DataLoader(opt.train_set, shuffle=True)
    if opt.no_val:
        test_loader = DataLoader(opt.test_set)
        return train_loader, test_loader
    val_loader = DataLoader(opt.val_set)
    return train_loader, val_loader

def main(args, model, opt):
    training, validation = prepare(args)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, training, opt)
        acc = evaluate(model, validation)
        if acc > best:
            best = acc
""",
    # Bug (Transfer-Learning-Library, partial DA): without a test split the factory returns the
    # validation data as the test data too; the caller selects on it and reports it as test.
    "validation_returned_as_test.py": HELPERS + """
def get_dataset(opt):
    train_set = opt.make("train")
    val_set = opt.make("target")
    if opt.data == "DomainNet":
        test_set = opt.make("target_test")
    else:
        test_set = val_set
    return train_set, val_set, test_set

def main(args, model, opt):
    train_set, val_set, test_set = get_dataset(args)
    train_loader, val_loader = DataLoader(train_set, shuffle=True), DataLoader(val_set)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    print(evaluate(model, DataLoader(test_set)))
""",
    # Look-alike: the test position under a validation name, only printed each epoch.
    "renamed_test_position_printed.py": HELPERS + """
def prepare_dataloader(opt):
    return DataLoader(opt.train_set, shuffle=True), DataLoader(opt.test_set)

def train(model, opt, args):
    training_data, validation_data = prepare_dataloader(args)
    for epoch in range(args.epochs):
        train_epoch(model, training_data, opt)
        print(epoch, evaluate(model, validation_data))
""",
    # Bug across modules (Transfer-Learning-Library): the project's `get_dataset` makes the
    # validation data from the test split for one dataset; the script selects on it.
    "xmod/data_utils.py": """
import torchvision

def get_dataset(name, root):
    train_dataset = torchvision.datasets.ImageFolder(root + "/train")
    if name == "Digits":
        val_dataset = test_dataset = torchvision.datasets.MNIST(root, split="test")
    else:
        val_dataset = torchvision.datasets.ImageFolder(root + "/val")
        test_dataset = torchvision.datasets.ImageFolder(root + "/test")
    return train_dataset, val_dataset, test_dataset
""",
    "xmod/main.py": HELPERS + """
import data_utils

def main(args, model, opt):
    train_set, val_set, test_set = data_utils.get_dataset(args.data, args.root)
    train_loader = DataLoader(train_set, shuffle=True)
    val_loader = DataLoader(val_set)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    print(evaluate(model, DataLoader(test_set)))
""",
    # Look-alike across modules: the project's factory keeps validation and test apart.
    "xmod_ok/data_utils.py": """
import torchvision

def get_dataset(root):
    train_dataset = torchvision.datasets.ImageFolder(root + "/train")
    val_dataset = torchvision.datasets.ImageFolder(root + "/val")
    test_dataset = torchvision.datasets.ImageFolder(root + "/test")
    return train_dataset, val_dataset, test_dataset
""",
    "xmod_ok/main.py": HELPERS + """
import data_utils

def main(args, model, opt):
    train_set, val_set, test_set = data_utils.get_dataset(args.root)
    train_loader = DataLoader(train_set, shuffle=True)
    val_loader = DataLoader(val_set)
    best = 0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, opt)
        acc = evaluate(model, val_loader)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    print(evaluate(model, DataLoader(test_set)))
""",
}

OFFSET = HELPERS.count("\n")
EXPECTED = {
    "renamed_test_position_selects.py": [("TRN204", OFFSET + 11)],
    "indexed_test_position_stops.py": [("TRN204", OFFSET + 11)],
    "validation_position_selects.py": [],
    "returns_test_on_one_path.py": [("TRN204", OFFSET + 14)],
    "renamed_test_position_printed.py": [],
    "validation_returned_as_test.py": [("TRN204", OFFSET + 16)],
    "xmod/data_utils.py": [],
    "xmod/main.py": [("TRN204", OFFSET + 10)],
    "xmod_ok/data_utils.py": [],
    "xmod_ok/main.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("factories"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_factory_positions(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_renamed_position_message_names_the_factory(found):
    finding = found["renamed_test_position_selects.py"][0]
    assert "`prepare_dataloader()` returns test data in that position" in finding["message"]
    assert finding["severity"] == "error"
