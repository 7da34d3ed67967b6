"""auditor/speed/dependencies.py: the names a file's imports make visible to the dependency graph."""

from __future__ import annotations

import pytest

from auditor.speed.dependencies import imported_names


@pytest.mark.parametrize("text, expected", [
    ("import os\n", {"os"}),
    ("from pkg import engine as e\n", {"pkg", "engine", "e"}),
    ("x = 1; import torch\n", {"torch"}),
    ("from . import (\n    train,\n    evaluate,\n)\n", {"train", "evaluate"}),
    ("import a, \\\n    b\n", {"a", "b"}),
    # Attributes of imported names: `models.resnet` may name the module models/resnet.py.
    ("import models\nnet = models.resnet.build()\n", {"models", "resnet"}),
    ("import torch\ntorch.nn.functional.relu(x)\n", {"torch", "nn"}),
    # Pairs as a left-to-right scan for `identifier.identifier` finds them: in
    # `cfg.torch.utils`, `cfg.torch` is a pair and `utils` is not an attribute of torch.
    ("import torch\ncfg.torch.utils\n", {"torch"}),
    ("import torch\na.b.torch.utils\n", {"torch", "utils"}),
    # A longer identifier ending in the name is not the name.
    ("import torch\nmytorch.utils\n", {"torch"}),
    # Attributes of attributes are not followed.
    ("import re\nm = re.match(p, s)\nm.group(1)\nmatch.group(2)\n", {"re", "match"}),
    ("x = 1\n", set()),
])
def test_imported_names(text, expected):
    assert set(imported_names(text)) == expected


def test_a_notebook_is_scanned_as_its_json_text():
    text = '{"cells": [{"source": ["import torch\\n", "torch.optim.SGD(p)"]}]}'
    assert set(imported_names(text, notebook=True)) == {"torch", "optim"}


def test_a_data_file_links_the_module_writing_it_to_the_one_reading_it():
    from auditor.speed.dependencies import DependencyGraph, scan_imports

    writer = b'import pandas as pd\ndf.to_csv(os.path.join(OUT, "clean.csv"))\n'
    reader = b'import pandas as pd\ndf = pd.read_csv("data/processed/clean.csv")\n'
    other = b'import pandas as pd\ndf = pd.read_csv("raw.csv")\n'
    names = {"a.py": scan_imports("a.py", writer), "b.ipynb": scan_imports("b.ipynb", reader.replace(b'"', b'\\"')),
             "c.py": scan_imports("c.py", other)}
    graph = DependencyGraph({"a.py": "a", "b.ipynb": "b", "c.py": "c"})
    for path, found in names.items():
        graph.add(path, found)
    graph.finish()
    assert graph.connected() == {"a.py", "b.ipynb"}
