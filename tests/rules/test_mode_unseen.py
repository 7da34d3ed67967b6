"""TRN101/TRN103 families found on code the tool had not seen (session 12), through the real command.

Each family has its bug and the correct look-alike a naive matcher would flag: a flag tested
with one quote style in the helper and the other in the caller; functions nested in one
`main` that share its model; a trainer handed a holder of the model (`model = context.model`);
`self.model` stored from a local the method built; several models evaluated at a notebook's top
level; a validation batch drawn under `no_grad` inside the training loop, into a name the
training batches also use (and test images made into the model's input by arithmetic and
concatenation); a prediction script that loads weights and saves the output.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\n\n"
DROPOUT_NET = "nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))"

# One helper trains or evaluates by a phase string; the caller passes "train" / "valid".
PHASE_HELPER = HEAD + f"""
model = {DROPOUT_NET}
optimizer = torch.optim.Adam(model.parameters())


def run_epoch(loader, mode):
    if mode {{test}}:
        {{switch}}
    total = 0.0
    for x, y in loader:
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        if mode == "train":
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        total += loss.item()
    return total


for epoch in range(10):
    run_epoch(train_loader, "train")
    run_epoch(val_loader, "valid")
"""

# `_train_epoch` and `_eval_epoch` are nested in `main` and both use its `model`.
SIBLINGS = HEAD + f"""
def main(train_data, eval_data, epochs):
    model = {DROPOUT_NET}
    optim = torch.optim.Adam(model.parameters())

    def _train_epoch():
        model.train()
        for step, (x, y) in enumerate(train_data):
            {{top_of_step}}
            optim.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optim.step()
            if step % 100 == 0:
                _eval_epoch()

    @torch.no_grad()
    def _eval_epoch():
        model.eval()
        correct = 0
        for x, y in eval_data:
            correct += (model(x).argmax(1) == y).sum().item()
        print(correct)

    for _ in range(epochs):
        _train_epoch()
"""

# The trainer gets a context object and works on `model = context.model`; validation goes
# through `predict(context.model)`, which switches the model to eval mode.
HOLDER = HEAD + f"""
class Context:
    def __init__(self, model, val_loader):
        self.model = model
        self.val_loader = val_loader


def predict(model, loader):
    model.eval()
    with torch.no_grad():
        return [model(x).argmax(1) for x in loader]


def validate(context):
    predictions = predict(context.model, context.val_loader)
    {{after_predict}}
    return len(predictions)


def train(context, loader, epochs=5):
    model = context.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    for epoch in range(epochs):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        print(validate(context))


train(Context({DROPOUT_NET}, val_loader), train_loader)
"""

# `self.model` holds what a builder method made in a local name.
LEARNER = HEAD + f"""
class Learning:
    def __init__(self, train_loader, test_loader):
        self.train_loader, self.test_loader = train_loader, test_loader
        self.build_model()

    def build_model(self):
        model = {DROPOUT_NET}
        model.to("cpu")
        {{at_build}}
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=0.0005)

    def evaluation(self):
        correct = 0
        for x, y in self.test_loader:
            with torch.no_grad():
                correct += (self.model(x).argmax(1) == y).sum().item()
        return correct

    def train(self, epochs=10):
        for epoch in range(epochs):
            for x, y in self.train_loader:
                self.optimizer.zero_grad()
                nn.functional.cross_entropy(self.model(x), y).backward()
                self.optimizer.step()
            print(self.evaluation())


def run(train_loader, test_loader):
    learner = Learning(train_loader, test_loader)
    learner.train(10)
    print(learner.evaluation())
"""

# Two models trained and scored at the top level of a notebook-like script.
TWO_MODELS = HEAD + f"""
cox = {DROPOUT_NET}
weibull = {DROPOUT_NET}
for net in (cox, weibull):
    pass
opt_cox = torch.optim.Adam(cox.parameters())
for x, y in train_loader:
    opt_cox.zero_grad()
    nn.functional.mse_loss(cox(x), y).backward()
    opt_cox.step()
opt_weibull = torch.optim.Adam(weibull.parameters())
for x, y in train_loader:
    opt_weibull.zero_grad()
    nn.functional.mse_loss(weibull(x), y).backward()
    opt_weibull.step()

with torch.no_grad():
    x, y = next(iter(test_loader))
    print(cox(x).mean().item())

{{weibull_switch}}
with torch.no_grad():
    x, y = next(iter(test_loader))
    print(weibull(x).mean().item())
"""

# The per-epoch validation loss of a full notebook cell: a validation batch drawn into `x`,
# the name the training batches also use, under no_grad inside the epoch loop.
INLINE_VAL = HEAD + f"""
model = {DROPOUT_NET}
optimizer = torch.optim.Adam(model.parameters())
val_losses = []
for epoch in range(20):
    {{epoch_top}}
    for i, batch in enumerate(train_loader):
        x, y = batch
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    {{before_val}}
    with torch.no_grad():
        x, y = next(iter({{val_source}}))
        val_losses.append(nn.functional.mse_loss(model(x), y))
"""

# A prediction script: the network is built, its weights loaded, and its output saved.
PREDICT_SCRIPT = HEAD + f"""
from torchvision.utils import save_image


def main(args):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 3, 3))
    model.load_state_dict(torch.load(args.model, map_location="cpu"))
    {{after_load}}
    x = load_image(args.input)
    with torch.no_grad():
        output = model(x)
        blended = blend(x, output)
    save_image(blended, args.output)
"""

# Every N steps a few test images are completed and saved (a GAN-style snapshot), the model's
# input made by arithmetic and concatenation from a batch drawn under no_grad.
SNAPSHOT = HEAD + f"""
model_cn = nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 3, 3))
opt_cn = torch.optim.Adadelta(model_cn.parameters())
step = 0
while step < steps:
    for x in train_loader:
        mask = make_mask(x.shape)
        input = torch.cat((x - x * mask, mask), dim=1)
        loss = nn.functional.mse_loss(model_cn(input), x)
        loss.backward()
        opt_cn.step()
        opt_cn.zero_grad()
        step += 1
        if step % period == 0:
            with torch.no_grad():
                x = sample_random_batch({{source}}, batch_size=16)
                mask = make_mask(x.shape)
                x_mask = x - x * mask + mpv * mask
                input = torch.cat((x_mask, mask), dim=1)
                output = model_cn(input)
                save_image(blend(x_mask, output, mask), f"step{{{{step}}}}.png")
"""

CASES = {
    # Both branches switch; `'train'` in the helper and `"train"` at the step are one flag.
    "phase_quotes_ok.py": PHASE_HELPER.format(
        test="== 'train'", switch="model.train()\n    else:\n        model.eval()"),
    # Only the evaluation path switches: after the first "valid" call, training runs in eval.
    "phase_quotes_bad.py": PHASE_HELPER.format(test="!= 'train'", switch="model.eval()"),
    "siblings_bad.py": SIBLINGS.format(top_of_step="pass"),
    "siblings_ok.py": SIBLINGS.format(top_of_step="model.train()"),
    "holder_bad.py": HOLDER.format(after_predict="pass"),
    "holder_ok.py": HOLDER.format(after_predict="context.model.train()"),
    "learner_bad.py": LEARNER.format(at_build="pass"),
    # Batch norm and dropout frozen at build time, for the whole run: nothing left in train mode.
    "learner_frozen_ok.py": LEARNER.format(at_build="model.eval()"),
    "two_models_bad.py": TWO_MODELS.format(weibull_switch="pass"),
    "two_models_one_ok.py": TWO_MODELS.format(weibull_switch="weibull.eval()"),
    "inline_val_bad.py": INLINE_VAL.format(epoch_top="model.train()", before_val="pass", val_source="val_loader"),
    "inline_val_ok.py": INLINE_VAL.format(epoch_top="model.train()", before_val="model.eval()",
                                          val_source="val_loader"),
    # The batch drawn under no_grad is a training batch (a look at the training loss): no evidence.
    "inline_train_batch_ok.py": INLINE_VAL.format(epoch_top="model.train()", before_val="pass",
                                                  val_source="train_loader"),
    "predict_script_bad.py": PREDICT_SCRIPT.format(after_load="pass"),
    "predict_script_ok.py": PREDICT_SCRIPT.format(after_load="model.eval()"),
    # Monte Carlo dropout asks for training mode on purpose: not an oversight.
    "predict_script_mc_ok.py": PREDICT_SCRIPT.format(after_load="model.train()"),
    "snapshot_test_bad.py": SNAPSHOT.format(source="test_set"),
    # The snapshot of a training batch is a look at the training data, not an evaluation.
    "snapshot_train_ok.py": SNAPSHOT.format(source="train_set"),
}

EXPECTED = {
    "phase_quotes_ok.py": [],
    "phase_quotes_bad.py": [("TRN103", 18)],
    "siblings_bad.py": [("TRN103", 15)],
    "siblings_ok.py": [],
    "holder_bad.py": [("TRN103", 31)],
    "holder_ok.py": [],
    "learner_bad.py": [("TRN101", 21)],
    "learner_frozen_ok.py": [],
    "two_models_bad.py": [("TRN101", 22), ("TRN101", 27)],
    "two_models_one_ok.py": [("TRN101", 22)],
    "inline_val_bad.py": [("TRN101", 19)],
    "inline_val_ok.py": [],
    "inline_train_batch_ok.py": [],
    "predict_script_bad.py": [("TRN101", 14)],
    "predict_script_ok.py": [],
    "predict_script_mc_ok.py": [],
    "snapshot_test_bad.py": [("TRN101", 23)],
    "snapshot_train_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_unseen"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_inline_validation_names_its_data(found):
    (finding,) = found["inline_val_bad.py"]
    assert "(val data)" in finding["message"] and finding["severity"] == "error"
