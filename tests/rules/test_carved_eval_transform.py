"""TRN205 when the validation part is carved out of a dataset built with the training
transform: `random_split(CIFAR10(..., transform=train_tf), ...)`, `Subset(train_dataset,
val_idx)`, also when the transform comes from a function of the file
(`transform=get_train_transforms()`). Look-alikes: the validation part carved from a second
dataset object with the evaluation transform; the carved part given its own transform
afterwards (`val_set.dataset.transform = test_tf`); a training part only. Through the real
command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

HEAD = """
import torch
from torch.utils.data import DataLoader, Subset, random_split
from torchvision import datasets, transforms

train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor()])
eval_tf = transforms.Compose([transforms.ToTensor()])
"""

CASES = {
    # Bug: random_split of one augmented dataset; the validation half keeps the augmentation.
    "split_bug.py": HEAD + """
full = datasets.CIFAR10("data", train=True, transform=train_tf)
train_set, val_set = random_split(full, [45000, 5000])
val_loader = DataLoader(val_set, batch_size=64)
""",
    # Bug: Subset by indices of the augmented training dataset, its transform from a function.
    "subset_bug.py": HEAD + """
def get_train_transforms():
    return transforms.Compose([transforms.RandomResizedCrop(32), transforms.ToTensor()])

train_dataset = datasets.CIFAR10("data", train=True, transform=get_train_transforms())
idx = torch.randperm(50000).tolist()
train_subset = Subset(train_dataset, idx[5000:])
val_subset = Subset(train_dataset, idx[:5000])
""",
    # Look-alike: a second dataset object with the evaluation transform gives the validation part.
    "two_objects_ok.py": HEAD + """
train_source = datasets.CIFAR10("data", train=True, transform=train_tf)
val_source = datasets.CIFAR10("data", train=True, transform=eval_tf)
idx = torch.randperm(50000).tolist()
train_subset = Subset(train_source, idx[5000:])
val_subset = Subset(val_source, idx[:5000])
""",
    # Look-alike: the carved part is given the evaluation transform afterwards.
    "retransformed_ok.py": HEAD + """
full = datasets.CIFAR10("data", train=True, transform=train_tf)
train_set, val_set = random_split(full, [45000, 5000])
val_set.dataset.transform = eval_tf
""",
    # Look-alike: only a training part is carved out.
    "train_only_ok.py": HEAD + """
full = datasets.CIFAR10("data", train=True, transform=train_tf)
small_train = Subset(full, range(1000))
""",
}

OFFSET = HEAD.count("\n")


def test_validation_carved_from_an_augmented_dataset(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN205")
    assert codes_lines(found["split_bug.py"]) == [("TRN205", OFFSET + 2)]
    assert codes_lines(found["subset_bug.py"]) == [("TRN205", OFFSET + 7)]
    assert all(f["severity"] == "warning" for f in found["split_bug.py"] + found["subset_bug.py"])


def test_validation_with_its_own_transform(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN205")
    for name in ("two_objects_ok.py", "retransformed_ok.py", "train_only_ok.py"):
        assert found[name] == [], name
