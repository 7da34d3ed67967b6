"""TRN205 and TRN206 through the real command: the bugs, and the correct code that looks like them."""

from __future__ import annotations

import pytest

from tests.rules._cases import check_cases, codes

TV = "from torchvision import datasets, transforms\n"

CASES = {
    # TRN205
    "eval_named_pipeline": TV + """
val_transform = transforms.Compose([
    transforms.RandomResizedCrop(224),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
])
""",
    "shared_pipeline": TV + """
tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])
train_ds = datasets.CIFAR10("data", train=True, transform=tf)
test_ds = datasets.CIFAR10("data", train=False, transform=tf)
""",
    "inline_split_kwarg": """
import torchvision.transforms.v2 as T
from torchvision.datasets import ImageNet

val_ds = ImageNet("data", split="val", transform=T.Compose([T.ColorJitter(0.4), T.ToImage()]))
""",
    "separate_pipelines": TV + """
train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])
test_tf = transforms.Compose([transforms.Resize(36), transforms.CenterCrop(32), transforms.ToTensor()])
train_ds = datasets.CIFAR10("data", train=True, transform=train_tf)
test_ds = datasets.CIFAR10("data", train=False, transform=test_tf)
val_tf = transforms.Compose([transforms.Normalize((0.5,), (0.5,))])
""",
    # TRN206
    "sampler_no_set_epoch": """
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

sampler = DistributedSampler(train_ds)
loader = DataLoader(train_ds, batch_size=32, sampler=sampler)
for epoch in range(10):
    for i, (x, y) in enumerate(loader):
        step(x, y)
""",
    "sampler_inline_passed_to_helper": """
from torch.utils.data import DataLoader, DistributedSampler

loader = DataLoader(train_ds, sampler=DistributedSampler(train_ds, shuffle=True))
for epoch in range(10):
    train_one_epoch(model, loader)
""",
    "sampler_set_epoch": """
from torch.utils.data import DataLoader, DistributedSampler

sampler = DistributedSampler(train_ds)
loader = DataLoader(train_ds, sampler=sampler)
for epoch in range(10):
    loader.sampler.set_epoch(epoch)
    for x, y in loader:
        step(x, y)
""",
    "sampler_no_shuffle_or_single_pass": """
from torch.utils.data import DataLoader, DistributedSampler

val_loader = DataLoader(val_ds, sampler=DistributedSampler(val_ds, shuffle=False))
for epoch in range(10):
    evaluate(model, val_loader)
once = DataLoader(ds, sampler=DistributedSampler(ds))
for x, y in once:
    predict(x)
""",
    # The shuffle default is on, but an evaluation's order changes nothing; the training
    # sampler beside it is still reported.
    "sampler_eval_default_shuffle": """
from torch.utils.data import DataLoader, DistributedSampler

train_loader = DataLoader(train_ds, sampler=DistributedSampler(train_ds))
eval_loader = DataLoader(eval_dataset, sampler=DistributedSampler(eval_dataset))
for epoch in range(10):
    for x, y in train_loader:
        step(x, y)
    for x, y in eval_loader:
        predict(x)
""",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return check_cases(tmp_path_factory.mktemp("data_transforms"), CASES, "TRN205,TRN206")


@pytest.mark.parametrize("case, expected", [
    ("eval_named_pipeline", ["TRN205", "TRN205"]),
    ("shared_pipeline", ["TRN205"]),
    ("inline_split_kwarg", ["TRN205"]),
    ("separate_pipelines", []),
    ("sampler_no_set_epoch", ["TRN206"]),
    ("sampler_inline_passed_to_helper", ["TRN206"]),
    ("sampler_set_epoch", []),
    ("sampler_no_shuffle_or_single_pass", []),
    ("sampler_eval_default_shuffle", ["TRN206"]),
])
def test_findings(found, case, expected):
    assert codes(found[case]) == expected, found[case]


def test_shared_pipeline_is_reported_where_test_data_gets_it(found):
    finding = found["shared_pipeline"][0]
    assert finding["line"] == 5 and "RandomCrop" in finding["message"]


def test_only_the_training_sampler_is_reported(found):
    assert [f["line"] for f in found["sampler_eval_default_shuffle"]] == [3]
