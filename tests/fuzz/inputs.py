"""Hypothesis strategies for hostile inputs: mutated training code, odd bytes, odd notebooks.

Shared by the short run in the test suite (tests/fuzz/test_fuzz_engine.py) and the long
one (tools/fuzz.py). Each strategy yields (file name, bytes) to write and check.
"""

from __future__ import annotations

import json
import textwrap

from hypothesis import strategies as st

from rules import ALL_RULES

SEEDS = [textwrap.dedent(e).lstrip("\n") for r in ALL_RULES for e in r.bad_examples + r.good_examples] + [
    "", "\n", "#!/usr/bin/env python\n", "import torch\n",
    "import torch\nfor epoch in range(3):\n    model.train()\n    for x, y in loader:\n"
    "        loss = criterion(model(x), y)\n        loss.backward()\n        optimizer.step()\n"
    "    model.eval()\n    with torch.no_grad():\n        for x, y in val_loader:\n            model(x)\n",
    "class M(torch.nn.Module):\n    def forward(self, x):\n        return F.softmax(x, dim=-1)\n",
    "async def f():\n    async with a as b:\n        await g(*[x async for x in y])\n",
    "match x:\n    case {'a': [1, *rest]} if rest:\n        pass\n    case _:\n        pass\n",
    "def f[T](x: T) -> T:\n    return x\ntype A = list[int]\n",
    "x = f'{a!r:>{width}} {b=}'\nlambda *a, **k: (yield)\n",
    "@decorator\nclass C(Base, metaclass=M):\n    x: int = 1\n    def g(self, /, a, *, b): ...\n",
]
# Fragments that break or bend Python: brackets, string starts, indentation, line ends.
TOKENS = ["(", ")", "[", "]", "{", "}", ":", "\t", " ", "\n", "\r\n", "\r", "\\", "'", '"', '"""', "#",
          "\x00", "\ufeff", "\x0c", "lambda", "yield", "await", "with", "torch.", ".eval()", "loss.backward()",
          "%matplotlib inline", "!pip install x", "é", "\u2028", "\U0001f600", "\udcff", "async ", "def ", "  "]


def _mutate(draw, text: str) -> str:
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.integers(0, 6))
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, n))
        if choice == 0:  # delete a span
            text = text[:i] + text[j:]
        elif choice == 1:  # duplicate a span
            text = text[:j] + text[i:j] + text[j:]
        elif choice == 2:  # insert a token
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif choice == 3:  # insert arbitrary text
            text = text[:i] + draw(st.text(max_size=20)) + text[i:]
        elif choice == 4:  # re-indent every line
            text = "\n".join(draw(st.sampled_from(["\t", "    ", " ", ""])) + line for line in text.split("\n"))
        elif choice == 5:  # swap the halves
            text = text[i:] + text[:i]
        else:  # truncate
            text = text[:i]
    return text


@st.composite
def python_texts(draw) -> str:
    text = draw(st.sampled_from(SEEDS))
    if draw(st.booleans()):
        text += draw(st.sampled_from(SEEDS))
    return _mutate(draw, text)


@st.composite
def structured_texts(draw) -> str:
    """Shapes that stress a parser: deep nesting, long lines, long chains, many blocks."""
    kind = draw(st.integers(0, 6))
    depth = draw(st.integers(1, 120))
    if kind == 0:
        opener, closer = draw(st.sampled_from([("(", ")"), ("[", "]"), ("{", "}"), ("f(", ")")]))
        return "import torch\nx = " + opener * depth + "1" + closer * depth + "\n"
    if kind == 1:
        return "".join(" " * i + "if x:\n" for i in range(depth)) + " " * depth + "loss.backward()\n"
    if kind == 2:
        return "x = '" + "a" * draw(st.integers(1000, 200_000)) + "'\n"
    if kind == 3:
        return "import torch\ny = [" + ", ".join(["1"] * draw(st.integers(1, 20_000))) + "]\n"
    if kind == 4:
        return "x = 1" + " + a.b" * depth + "\n"
    if kind == 5:
        return "def f():\n" + "".join(f"    def g{i}():\n" + "    " * (i + 2) + "pass\n" for i in range(depth))
    return "model.eval()\n" * depth


def _encode(draw, text: str) -> bytes:
    style = draw(st.integers(0, 6))
    if style == 1:
        text = text.replace("\n", "\r\n")
    elif style == 2:
        text = text.replace("\n", "\r")
    data = text.encode("utf-8", "surrogatepass")
    if style == 3:
        return b"\xef\xbb\xbf" + data
    if style == 4:
        return b"# -*- coding: latin-1 -*-\n" + text.encode("latin-1", "replace")
    if style == 5:
        cookie = draw(st.sampled_from([b"utf-16", b"bogus-codec", b"ascii", b"cp1252", b"utf-8-sig"]))
        return b"# coding: " + cookie + b"\n" + data
    if style == 6:
        i = draw(st.integers(0, len(data)))
        return data[:i] + draw(st.binary(max_size=16)) + data[i:]
    return data


# Expressions and statements nested as deep as CPython's compiler still accepts (its own
# nesting limits stop brackets at 200 and blocks at 100, not these): each level is one
# more node on a recursive walk of the tree.
DEEP_SHAPES = {
    "and": lambda n: "x = a" + " and b" * n + "\n",
    "or": lambda n: "x = a" + " or b" * n + "\n",
    "not": lambda n: "x = " + "not " * n + "a\n",
    "neg": lambda n: "x = " + "-" * n + "a\n",
    "plus": lambda n: "loss = 1" + " + a.b" * n + "\n",
    "attr": lambda n: "x = a" + ".b" * n + "\n",
    "call": lambda n: "x = a" + "()" * n + "\n",
    "strings": lambda n: "x = " + "'a' " * n + "\n",
    "ternary": lambda n: "x = " + "a if b else " * n + "c\n",
    "lambda": lambda n: "x = " + "lambda: " * n + "c\n",
    "elif": lambda n: "if a:\n    pass\n" + "elif b:\n    model.eval()\n" * n,
    "decorators": lambda n: "@d\n" * n + "def f():\n    pass\n",
}


@st.composite
def deep_texts(draw) -> str:
    # A random.Random seeded by one draw, not sampled_from: Hypothesis favours the first
    # choices, and these rare inputs must spread over every shape and depth.
    rnd = draw(st.randoms(use_true_random=True))
    shape = DEEP_SHAPES[rnd.choice(sorted(DEEP_SHAPES))]
    return "import torch\n" + shape(rnd.randint(200, 1200)) + "x.backward()\nloss.backward()\n"


# Literals that libcst's parser accepts and CPython's compiler refuses: evaluating them
# (SimpleString.evaluated_value, int()) raises, so a rule reading them must not.
# Bytes next to text (`b'a' 'b'`) passes libcst's grammar and only its node validation
# (and CPython) refuse it.
HOSTILE_LITERALS = ['"\\N{NO SUCH NAME}"', '"\\x1"', '"\\u12"', "b'\u00e9'", "'\\N{'", "1" + "0" * 5000,
                    "b'.pt' 'h'", "'w' b'x'"]
LITERAL_USES = [
    "x = {0}\n", "split = {0}\n", "if mode == {0}:\n    model.eval()\n", "loaders[{0}]\n",
    "model.to({0})\n", "torch.device({0})\n", "DataLoader(ds, shuffle={0})\n", "torch.load({0})\n",
    "opt = getattr(torch.optim, {0})(model.parameters())\n", "for epoch in range({0}):\n    loss.backward()\n",
]


@st.composite
def literal_texts(draw) -> str:
    rnd = draw(st.randoms(use_true_random=True))
    uses = [rnd.choice(LITERAL_USES) for _ in range(rnd.randint(1, 4))]
    text = rnd.choice(SEEDS) + "\n" + "".join(u.format(rnd.choice(HOSTILE_LITERALS)) for u in uses)
    return "import torch\n" + text


@st.composite
def deep_files(draw) -> tuple[str, bytes]:
    """Rare in the long run (each takes seconds): see inputs()."""
    return draw(st.sampled_from(["train.py", "deep.py"])), _encode(draw, draw(deep_texts()))


@st.composite
def python_files(draw) -> tuple[str, bytes]:
    text = draw(st.one_of(python_texts(), structured_texts(), st.text(max_size=200)))
    if draw(st.integers(0, 20)) == 0:
        return "noise.py", draw(st.binary(max_size=300))
    return draw(st.sampled_from(["train.py", "__init__.py", "stub.pyi"])), _encode(draw, text)


@st.composite
def notebooks(draw) -> tuple[str, bytes]:
    cells = []
    for _ in range(draw(st.integers(0, 5))):
        source = draw(python_texts())
        as_list = draw(st.booleans())
        cell = {
            "cell_type": draw(st.sampled_from(["code", "code", "markdown", "raw", None, 3])),
            "source": source.splitlines(keepends=True) if as_list else source,
            "metadata": {}, "outputs": [],
        }
        if draw(st.integers(0, 10)) == 0:
            cell["source"] = draw(st.sampled_from([None, 5, [1, "a"], {"a": 1}, ["%%bash\n", "ls\n"]]))
        if draw(st.integers(0, 10)) == 0:
            cell = draw(st.sampled_from([[], "cell", None, 7]))
        cells.append(cell)
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    odd = draw(st.integers(0, 12))
    if odd == 0:
        document = draw(st.sampled_from([[], None, {"cells": {}}, {"cells": None}, "text", {}]))
    data = json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if odd == 1:
        data = data[: draw(st.integers(0, len(data)))]
    elif odd == 2:
        data = b"\xef\xbb\xbf" + data
    elif odd == 3:
        data = data.replace(b"e", b"\xe9", 1)
    return "notebook.ipynb", data


@st.composite
def inputs(draw) -> tuple[str, bytes]:
    """The long run's mix: sources and notebooks; one input in 50 nested deep, one in 50
    holding literals CPython refuses."""
    rare = draw(st.integers(0, 49))
    if rare == 0:
        return draw(deep_files())
    if rare == 1:
        return "literals.py", _encode(draw, draw(literal_texts()))
    return draw(st.one_of(python_files(), python_files(), notebooks()))
