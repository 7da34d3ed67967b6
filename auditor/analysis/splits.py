"""Which split a value holds, read from the names people give it."""

from __future__ import annotations

import re
from typing import Optional

TRAIN, VAL, TEST, ALL = "train", "val", "test", "all"
EVAL_SPLITS = (VAL, TEST)

_TOKENS = {
    TRAIN: {"train", "tr", "trn", "training", "trainset", "trainloader", "traindl"},
    VAL: {"val", "valid", "validation", "vali", "dev", "va", "eval", "evaluation", "holdout", "valset",
          "valloader", "validloader", "evalloader", "devloader"},
    TEST: {"test", "tst", "te", "testing", "testset", "testloader", "heldout"},
}
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def name_tokens(name: str) -> list[str]:
    """`X_te` -> [x, te]; `validLoader` -> [valid, loader]; `self.test_dl` -> [test, dl]."""
    last = name.rsplit(".", 1)[-1]
    return [t.lower() for t in _WORD.findall(last)]


def split_of_name(name: Optional[str]) -> Optional[str]:
    """train / val / test from a name, or None when the name says nothing or both."""
    if not name:
        return None
    tokens = name_tokens(name)
    found = {split for split, words in _TOKENS.items() for t in tokens if t in words}
    if len(found) == 1:
        return found.pop()
    return None


def split_of_string(text: str) -> Optional[str]:
    """A dict key or phase string such as "valid" or "test"."""
    return split_of_name(text.strip("'\""))
