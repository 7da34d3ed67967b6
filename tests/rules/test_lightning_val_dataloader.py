"""TRN204 when Lightning's validation data comes from a `val_dataloader()` method: a
LightningDataModule (or the LightningModule itself) whose validation loader is the test split
(`DataLoader(CIFAR10(root, train=False))`), given to `trainer.fit` with a checkpoint monitor or
early stopping (also Lightning < 1.5's `checkpoint_callback=`), in this file or another module
of the project. Look-alikes: a validation loader carved from the training set, the user's own
dataset class with `train=False`, no selection setting. Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

DATAMODULE = """
import pytorch_lightning as pl
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import CIFAR10


class CIFARData(pl.LightningDataModule):
    def train_dataloader(self):
        return DataLoader(CIFAR10("data", train=True), batch_size=64, shuffle=True)

    def val_dataloader(self):
        dataset = CIFAR10("data", train=False)
        loader = DataLoader(dataset, batch_size=256)
        return loader

    def test_dataloader(self):
        return self.val_dataloader()
"""

CARVED = """
import pytorch_lightning as pl
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import CIFAR10


class CIFARData(pl.LightningDataModule):
    def train_dataloader(self):
        return DataLoader(Subset(CIFAR10("data", train=True), range(45000)), shuffle=True)

    def val_dataloader(self):
        return DataLoader(Subset(CIFAR10("data", train=True), range(45000, 50000)))

    def test_dataloader(self):
        return DataLoader(CIFAR10("data", train=False))
"""

CASES = {
    # Bug (PyTorch_CIFAR10): the datamodule of another module validates on the CIFAR test
    # split, the old-style `checkpoint_callback=` keeps the best checkpoint on it.
    "xmod/data.py": DATAMODULE,
    "xmod/train.py": """
import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from data import CIFARData

def main(model):
    checkpoint = ModelCheckpoint(monitor="acc/val", mode="max")
    trainer = pl.Trainer(max_epochs=100, checkpoint_callback=checkpoint)
    data = CIFARData()
    trainer.fit(model, data)
    trainer.test()
""",
    # Bug: the same in one file, datamodule by keyword, early stopping.
    "same_file_early_stopping.py": DATAMODULE + """
from pytorch_lightning.callbacks import EarlyStopping

def main(model):
    trainer = pl.Trainer(callbacks=[EarlyStopping(monitor="val_loss")])
    trainer.fit(model, datamodule=CIFARData())
""",
    # Bug: the LightningModule's own val_dataloader is the MNIST test split.
    "module_own_loader.py": """
import pytorch_lightning as pl
from torch.utils.data import DataLoader
from torchvision.datasets import MNIST
from pytorch_lightning.callbacks import ModelCheckpoint


class Lit(pl.LightningModule):
    def val_dataloader(self):
        return DataLoader(MNIST("data", train=False, download=True), batch_size=256)

model = Lit()
trainer = pl.Trainer(callbacks=[ModelCheckpoint(monitor="val_loss")])
trainer.fit(model)
""",
    # Look-alike: validation rows carved out of the training split.
    "carved_validation.py": CARVED + """
from pytorch_lightning.callbacks import ModelCheckpoint

def main(model):
    trainer = pl.Trainer(callbacks=[ModelCheckpoint(monitor="val_acc")])
    trainer.fit(model, CIFARData())
""",
    # Look-alike: the validation loader is the test split but nothing selects on it.
    "test_split_no_monitor.py": DATAMODULE + """
def main(model):
    trainer = pl.Trainer(max_epochs=30)
    trainer.fit(model, datamodule=CIFARData())
""",
    # Look-alike: the user's own dataset class, whose `train=False` rows are its validation part.
    "own_class_validation.py": """
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader
from pytorch_lightning.callbacks import ModelCheckpoint


class Folder(torch.utils.data.Dataset):
    def __init__(self, root, train=True):
        items = sorted(root)
        self.items = items[:800] if train else items[800:]


class Data(pl.LightningDataModule):
    def val_dataloader(self):
        return DataLoader(Folder("data", train=False))

def main(model):
    trainer = pl.Trainer(callbacks=[ModelCheckpoint(monitor="val_loss")])
    trainer.fit(model, datamodule=Data())
""",
}

EXPECTED = {
    "xmod/data.py": [],
    "xmod/train.py": [("TRN204", 9)],
    "same_file_early_stopping.py": [("TRN204", 22)],
    "module_own_loader.py": [("TRN204", 13)],
    "carved_validation.py": [],
    "test_split_no_monitor.py": [],
    "own_class_validation.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("lightning_val"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_val_dataloader_of_the_test_split(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_says_where_the_test_split_comes_from(found):
    finding = found["xmod/train.py"][0]
    assert "`val_dataloader()` returns the test split" in finding["message"]
    assert "ModelCheckpoint(monitor=\"acc/val\"" in finding["message"] and finding["severity"] == "error"
