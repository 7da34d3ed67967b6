"""Python 3.6 code that Python 3.7+ refuses only because `async` became a keyword.

PyTorch code of 2017-2018 moves batches with `x.cuda(async=True)` (the argument was
renamed `non_blocking` in PyTorch 0.4). Such a file is otherwise ordinary training code:
read with `async` spelled as a name of the same length, every position stays where it was.
"""

from __future__ import annotations

import re
from typing import Optional

# `async=` as an argument or parameter name (not `==`); no Python 3.7+ file has it.
_ASYNC_NAME = re.compile(r"\basync(?=\s*=(?!=))")
SPELLED_AS = "asyn_"  # same length: columns and lines do not move


def async_as_name(text: str) -> Optional[str]:
    """The text with each `async=` keyword argument renamed, or None when it has none."""
    renamed, count = _ASYNC_NAME.subn(SPELLED_AS, text)
    return renamed if count else None
