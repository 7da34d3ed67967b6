"""TRN101 on `model.generate(...)`, through the real command.

Hugging Face's `generate()` (and a model class's own sampler) runs the model's forward in
whatever mode the model is in: generating validation outputs inside the epoch loop, after
`model.train()`, decodes with dropout on. `generate()` is decorated with no_grad, so TRN102
says nothing about it.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

LOOP = """
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

tok = AutoTokenizer.from_pretrained("gpt2")
model = AutoModelForCausalLM.from_pretrained("gpt2")
opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
for epoch in range(3):
    model.train()
    for batch in train_loader:
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    {switch}
    for batch in val_loader:
        out = model.generate(batch["input_ids"], max_new_tokens=20)
        print(tok.batch_decode(out))
"""

SCRIPT = """
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

tok = AutoTokenizer.from_pretrained("t5-small")
model = AutoModelForSeq2SeqLM.from_pretrained("t5-small")
for text in open("test.txt"):
    ids = tok(text, return_tensors="pt").input_ids
    print(tok.decode(model.generate(ids)[0]))
"""

CASES = {
    "generate_in_train_mode.py": LOOP.format(switch="pass"),
    "generate_after_eval.py": LOOP.format(switch="model.eval()"),
    # `from_pretrained()` returns the model in eval mode: a script that only generates is right.
    "generate_script.py": SCRIPT,
}

EXPECTED = {
    "generate_in_train_mode.py": [("TRN101", 16)],
    "generate_after_eval.py": [],
    "generate_script.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_generate"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
