"""TRN203: a loader helper whose `shuffle` parameter defaults to True and is handed to the
DataLoader of a validation/test split (`def get_dataloader(bs, shuffle=True)` building the
train, val and test loaders with `shuffle=shuffle`, called as `get_dataloader(8)`)."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "from torch.utils.data import DataLoader\n"

CASES = {
    # The default is used: the validation and test loaders shuffle.
    "factory_default_true.py": HEAD + """
val_dataset = Segmentation(valid_images)
test_dataset = Segmentation(test_images)

def get_dataloader(batch_size, shuffle=True):
    train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=shuffle)
    val_loader = DataLoader(val_dataset, batch_size=batch_size, shuffle=shuffle)
    test_loader = DataLoader(test_dataset, batch_size=batch_size, shuffle=shuffle)
    return train_loader, val_loader, test_loader

loaders = get_dataloader(8)
""",
    # Defined and not called in this file (another module calls it): the default decides.
    "factory_default_true_uncalled.py": HEAD + """
def make_loaders(train_ds, val_ds, bs, shuffle=True):
    return DataLoader(train_ds, batch_size=bs, shuffle=shuffle), DataLoader(val_ds, batch_size=bs, shuffle=shuffle)
""",
    # Look-alike: the default is False.
    "factory_default_false.py": HEAD + """
def get_dataloader(batch_size, shuffle=False):
    val_loader = DataLoader(val_dataset, batch_size=batch_size, shuffle=shuffle)
    return val_loader

loader = get_dataloader(8)
""",
    # Look-alike: every call in the file turns the default off.
    "factory_default_overridden.py": HEAD + """
def get_dataloader(batch_size, shuffle=True):
    val_loader = DataLoader(val_dataset, batch_size=batch_size, shuffle=shuffle)
    return val_loader

loader = get_dataloader(8, shuffle=False)
""",
    # Look-alike: the default shuffles only the training loader.
    "factory_train_only.py": HEAD + """
def get_dataloader(batch_size, shuffle=True):
    train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=shuffle)
    val_loader = DataLoader(val_dataset, batch_size=batch_size, shuffle=False)
    return train_loader, val_loader

loaders = get_dataloader(8)
""",
    # Look-alike: the parameter is recomputed before it reaches the loader.
    "factory_reassigned.py": HEAD + """
def get_dataloader(batch_size, split, shuffle=True):
    shuffle = shuffle and split == "train"
    val_loader = DataLoader(val_dataset, batch_size=batch_size, shuffle=shuffle)
    return val_loader
""",
}

EXPECTED = {
    "factory_default_true.py": [("TRN203", 8), ("TRN203", 9)],
    "factory_default_true_uncalled.py": [("TRN203", 4)],
    "factory_default_false.py": [],
    "factory_default_overridden.py": [],
    "factory_train_only.py": [],
    "factory_reassigned.py": [],
}


def test_shuffle_parameter_defaulting_to_true(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN203")
    assert {name: codes_lines(found[name]) for name in CASES} == EXPECTED
