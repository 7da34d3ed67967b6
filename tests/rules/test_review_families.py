"""Families that fooled TRN101/TRN102 on the repositories of issue 17's review (session 10),
each with the bug the rule must keep and the correct look-alike it must leave alone.

- a notebook that redefines a helper cell after cell: a call runs the definition above it;
- `torch.no_grad()` in a file that never imports torch (documentation notebooks);
- models of another framework (`TFAutoModel...`): torch's autograd means nothing to them;
- `for epoch in range(10)` runs its body: the model is not still fresh after the loop.
"""

from __future__ import annotations

import json

import pytest

from tests.rules._core_cases import codes_lines, run_cases


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": cell} for cell in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


_HELPER = """def accuracy(model, loader):
    hits = 0
    for x, y in loader:
        hits += (model(x).argmax(1) == y).sum().item()
    return hits
"""

_TRAIN = """for epoch in range(3):
    model.train()
    for x, y in train_loader:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    model.eval()
"""

CASES = {
    # The helper is defined twice; every call of each definition runs under no_grad.
    "redefined_ok.ipynb": _notebook(
        "import torch\nmodel = make_model()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)",
        _HELPER,
        _TRAIN + "    with torch.no_grad():\n        print(accuracy(model, train_loader))",
        _HELPER,
        "with torch.no_grad():\n    print(accuracy(model, test_loader))",
    ),
    # The same cells, but the second definition's call runs with autograd on: that one is reported.
    "redefined_bad.ipynb": _notebook(
        "import torch\nmodel = make_model()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)",
        _HELPER,
        _TRAIN + "    with torch.no_grad():\n        print(accuracy(model, train_loader))",
        _HELPER,
        "print(accuracy(model, test_loader))",
    ),
    # A documentation notebook that never shows `import torch`: its no_grad is torch's.
    "unimported_torch_ok.ipynb": _notebook(
        "sample_test_video = next(iter(test_dataset))",
        "def run_inference(model, video):\n"
        "    inputs = {'pixel_values': video.unsqueeze(0), 'labels': torch.tensor([sample_test_video['label']])}\n"
        "    with torch.no_grad():\n"
        "        logits = model(**inputs).logits\n"
        "    return logits",
    ),
    "unimported_torch_bad.ipynb": _notebook(
        "sample_test_video = next(iter(test_dataset))",
        "def run_inference(model, video):\n"
        "    inputs = {'pixel_values': video.unsqueeze(0), 'labels': torch.tensor([sample_test_video['label']])}\n"
        "    logits = model(**inputs).logits\n"
        "    return logits",
    ),
    # A TensorFlow model read as numbers: no torch graph is built.
    "tensorflow_model_ok.py": """
        from transformers import AutoTokenizer, TFAutoModelForQuestionAnswering
        import tensorflow as tf

        tokenizer = AutoTokenizer.from_pretrained("bert")
        model = TFAutoModelForQuestionAnswering.from_pretrained("bert")  # the TensorFlow twin of a torch model
        for question in questions:
            encoded = tokenizer(question, context, return_tensors="tf")
            ids = encoded["input_ids"].numpy()[0]
            out = model(encoded)
            first = tf.argmax(out.start_logits, axis=1).numpy()[0]
            last = tf.argmax(out.end_logits, axis=1).numpy()[0] + 1
            print(tokenizer.decode(ids[first:last]))
        """,
    "torch_model_bad.py": """
        from transformers import AutoTokenizer, AutoModelForQuestionAnswering
        import torch

        tokenizer = AutoTokenizer.from_pretrained("bert")
        model = AutoModelForQuestionAnswering.from_pretrained("bert")
        for question in questions:
            encoded = tokenizer(question, context, return_tensors="pt")
            ids = encoded["input_ids"].numpy()[0]
            out = model(**encoded)
            first = torch.argmax(out.start_logits, dim=1).numpy()[0]
            last = torch.argmax(out.end_logits, dim=1).numpy()[0] + 1
            print(tokenizer.decode(ids[first:last]))
        """,
    # A notebook that shows each example in torch, then in TensorFlow, reusing `model`: the
    # torch cell is reported, the TensorFlow cell (the binding above it) is not.
    "torch_then_tensorflow.ipynb": _notebook(
        "from transformers import AutoTokenizer, AutoModelForSequenceClassification\n"
        "import torch\n"
        "tokenizer = AutoTokenizer.from_pretrained('bert')\n"
        "model = AutoModelForSequenceClassification.from_pretrained('bert')\n"
        "for sentence in sentences:\n"
        "    scores = model(**tokenizer(sentence, return_tensors='pt')).logits\n"
        "    print(torch.softmax(scores, dim=1).tolist())",
        "from transformers import AutoTokenizer, TFAutoModelForSequenceClassification\n"
        "import tensorflow as tf\n"
        "tokenizer = AutoTokenizer.from_pretrained('bert')\n"
        "model = TFAutoModelForSequenceClassification.from_pretrained('bert')\n"
        "for sentence in sentences:\n"
        "    scores = model(tokenizer(sentence, return_tensors='tf')).logits\n"
        "    print(tf.nn.softmax(scores, axis=1).numpy().tolist())",
    ),
    # `range(10)` runs: after the loop the model is in the eval mode its last epoch set.
    "counted_loop_ok.py": """
        import torch
        import torch.nn as nn

        num_epochs = 10
        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(num_epochs):
            model = model.train()
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model = model.eval()
        with torch.no_grad():
            print(model(x_test).argmax(1))
        """,
    # A training loop whose count is not known is taken to run (nobody reports numbers from a
    # run of zero epochs): after it the model is in the eval mode its last epoch set.
    "uncounted_loop_ok.py": """
        import torch
        import torch.nn as nn

        def fit(num_epochs, train_loader, x_test):
            model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for epoch in range(num_epochs):
                model.train()
                for x, y in train_loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                model.eval()
            with torch.no_grad():
                return model(x_test).argmax(1)
        """,
    # An empty range never runs its body: the model stays fresh, in training mode.
    "empty_range_bad.py": """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(5, 5):
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
        with torch.no_grad():
            print(model(x_test).argmax(1))
        """,
}

EXPECTED = {
    "redefined_ok.ipynb": [],
    "redefined_bad.ipynb": [("TRN102", 4)],
    "unimported_torch_ok.ipynb": [],
    "unimported_torch_bad.ipynb": [("TRN102", 3)],
    "tensorflow_model_ok.py": [],
    "torch_model_bad.py": [("TRN102", 9)],
    "torch_then_tensorflow.ipynb": [("TRN102", 6)],
    "counted_loop_ok.py": [],
    "uncounted_loop_ok.py": [],
    "empty_range_bad.py": [("TRN101", 13)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review_families"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_only_the_torch_cell_of_a_two_framework_notebook_is_reported(found):
    assert [f["cell"] for f in found["torch_then_tensorflow.ipynb"]] == [1]


def test_redefined_helper_is_reported_in_the_cell_whose_call_keeps_autograd(found):
    (finding,) = found["redefined_bad.ipynb"]
    assert finding["cell"] == 4 and "accuracy()" in finding["message"]


# TRN204: a helper that scores the module-level test loader, unless its argument asks for one
# prediction (`test("Sung")` returns before the loop): only the argument-less call reads test data.
_NAME_OR_TEST = """
import torch

model = make_model()
opt = torch.optim.Adam(model.parameters())

def test(name=None):
    if name:
        print(name, model(encode(name)).argmax(1).item())
        return
    correct = 0
    for x, y in test_loader:
        correct += (model(x).argmax(1) == y).sum().item()
    print(correct)

for epoch in range(5):
    for x, y in train_loader:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
"""

TEST_SPLIT_CASES = {
    "one_name_ok.py": _NAME_OR_TEST + '    test("Sung")\n    test(name="Nako")\n',
    "whole_test_set_bad.py": _NAME_OR_TEST + "    test()\n    test(None)\n",
}


@pytest.fixture(scope="module")
def found_test_split(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review_families_204"), TEST_SPLIT_CASES, "TRN204")


def test_a_call_whose_argument_takes_the_early_return_reads_no_test_data(found_test_split):
    assert codes_lines(found_test_split["one_name_ok.py"]) == []
    assert codes_lines(found_test_split["whole_test_set_bad.py"]) == [("TRN204", 20), ("TRN204", 21)]
