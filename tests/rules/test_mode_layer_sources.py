"""TRN101's severity when the model's layers are reached through names, through the real command.

The finding is an error when the evaluated model has dropout or batch norm (or layers the
tool cannot see), info ("harmless as written") when every layer is visible and none depends
on the mode. Each family has the bug (the same shape with a mode-dependent layer) and the
look-alike:
- a helper's parameter holds, at each call, the model bound there (a notebook rebinds
  `model` between `train(model, ...)` calls; a model bound after the last call is not passed),
  or each model of a literal list the loop around the call runs over;
- `nn.Sequential(*layers)` over a list built by `append`/`extend`/`+=` (an append after the
  container is built does not reach it; a list handed to an unknown helper is unknown);
- `nn.ModuleList(l)` of layers bound to local names, `nn.Sequential(*self._make_layers())`;
- the mode a helper leaves its argument in, through what it returns (`model, losses =
  fit(model, ...)`, `net, losses = fit(...)`), its epoch loop running at least once because
  it trains (through `train_epoch()`); a loop that trains nothing may not run;
- a model class defined only in a notebook cell that does not parse (an exercise's blanks):
  no finding, where the written class with dropout is an error.
"""

from __future__ import annotations

import json

import pytest

from tests.rules._core_cases import run_cases

HEAD = "import torch\nimport torch.nn as nn\n\n"

TRAIN_HELPER = HEAD + """
def train(model, num_epochs, train_dl, x_valid, y_valid):
    history = []
    for epoch in range(num_epochs):
        for x_batch, y_batch in train_dl:
            loss = loss_fn(model(x_batch), y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        pred = model(x_valid)
        history.append(((pred >= 0.5).float() == y_valid).float().mean())
    return history

model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
loss_fn = nn.BCELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
history = train(model, 200, train_dl, x_valid, y_valid)

model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), {SECOND} nn.Linear(4, 1), nn.Sigmoid())
optimizer = torch.optim.SGD(model.parameters(), lr=0.015)
history = train(model, 200, train_dl, x_valid, y_valid)

model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 1))
model.eval()
"""

LIST_BUILT = HEAD + """
hidden_units = [8, 4]
input_size = x_train.shape[1]
all_layers = []
for hidden_unit in hidden_units:
    layer = nn.Linear(input_size, hidden_unit)
    all_layers.append(layer)
    all_layers.append(nn.ReLU())
    {INSIDE}
    input_size = hidden_unit
all_layers += [nn.Linear(hidden_units[-1], 1)]
{BEFORE}
model = nn.Sequential(*all_layers)
{AFTER}
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
for epoch in range(200):
    for x_batch, y_batch in train_dl:
        loss = loss_fn(model(x_batch)[:, 0], y_batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

with torch.no_grad():
    pred = model(x_test.float())[:, 0]
    print(loss_fn(pred, y_test).item())
"""

MODULE_LIST = HEAD + """
class MyModule(nn.Module):
    def __init__(self):
        super().__init__()
        l1 = nn.Linear(2, 4)
        a1 = {ACTIVATION}
        l2 = nn.Linear(4, 1)
        l = [l1, a1, l2]
        self.module_list = nn.ModuleList(l)

    def forward(self, x):
        for f in self.module_list:
            x = f(x)
        return x

model = MyModule()
optimizer = torch.optim.SGD(model.parameters(), lr=0.015)
for epoch in range(10):
    for x_batch, y_batch in train_dl:
        loss = loss_fn(model(x_batch), y_batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
with torch.no_grad():
    print((model(x_test).argmax(1) == y_test).float().mean())
"""

MADE_BY_METHOD = HEAD + """
class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.features = nn.Sequential(*self._make_layers(cfg))
        self.classifier = nn.Linear(512, 10)

    def _make_layers(self, cfg):
        layers = []
        in_channels = 3
        for x in cfg:
            layers += [nn.Conv2d(in_channels, x, kernel_size=3, padding=1), {NORM} nn.ReLU()]
            in_channels = x
        return layers

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))

model = Net([64, 128, 512])
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for epoch in range(10):
    for x_batch, y_batch in train_dl:
        loss = loss_fn(model(x_batch), y_batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
with torch.no_grad():
    print((model(x_test).argmax(1) == y_test).float().mean())
"""

# fit() trains and tests each epoch and hands the model back; the caller then evaluates it.
FIT = HEAD + """
def train_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def test_epoch(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(loss_fn(model(x), y).item() for x, y in loader)

def fit(model, train_loader, test_loader, optimizer, nb_epochs):
    losses = []
    for epoch in range(nb_epochs):
        {FIRST}
        {SECOND}
    return model, losses

model = nn.Sequential(nn.Linear(4, 50), nn.Dropout(0.2), nn.Linear(50, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
{TARGET}, losses = fit(model, train_loader, test_loader, optimizer, 50)
with torch.no_grad():
    pred = {TARGET}(X_test[0])
    print(pred.cpu().numpy())
"""
TRAINS = "train_epoch(model, train_loader, optimizer)"
TESTS = "losses.append(test_epoch(model, test_loader))"
SCORES = "losses.append(score(model, test_loader))"

# Each model of a literal list goes through the same helper.
OVER_MODELS = HEAD + """
def train(model, loader, x_valid, y_valid):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for epoch in range(5):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    return (model(x_valid).argmax(1) == y_valid).float().mean().item()

mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
wide = nn.Sequential(nn.Linear(4, 64), {WIDE}, nn.Linear(64, 2))
for model in [mlp, wide]:
    print(train(model, loader, x_valid, y_valid))
"""


def _fit(first: str, second: str, target: str = "model") -> str:
    return FIT.replace("{FIRST}", first).replace("{SECOND}", second).replace("{TARGET}", target)


def _list(inside: str = "", before: str = "", after: str = "") -> str:
    return LIST_BUILT.replace("{INSIDE}", inside).replace("{BEFORE}", before).replace("{AFTER}", after)


CASES = {
    "helper_plain.py": TRAIN_HELPER.replace("{SECOND}", ""),
    "helper_dropout.py": TRAIN_HELPER.replace("{SECOND}", "nn.Dropout(0.2),"),
    "list_plain.py": _list(),
    "list_dropout.py": _list(inside="all_layers.append(nn.Dropout(0.5))"),
    "list_conditional_dropout.py": _list(inside="if use_dropout:\n        all_layers.append(nn.Dropout(0.5))"),
    "list_extended_norm.py": _list(before="all_layers.extend([nn.BatchNorm1d(1)])"),
    "list_appended_after.py": _list(after="all_layers.append(nn.Dropout(0.5))"),
    "list_handed_on.py": _list(before="add_regularisation(all_layers)"),
    # Rebound on one branch only: both lists can reach the model (the last one is not enough).
    "list_either_branch.py": _list(before="if deep:\n    all_layers = [nn.Linear(4, 8), nn.Dropout(0.5)]\n"
                                          "else:\n    all_layers = [nn.Linear(4, 1)]"),
    "module_list_plain.py": MODULE_LIST.replace("{ACTIVATION}", "nn.ReLU()"),
    "module_list_dropout.py": MODULE_LIST.replace("{ACTIVATION}", "nn.Dropout(0.3)"),
    "method_plain.py": MADE_BY_METHOD.replace("{NORM}", ""),
    "method_norm.py": MADE_BY_METHOD.replace("{NORM}", "nn.BatchNorm2d(x),"),
    # The block class is the caller's argument: the method's layers are not known here.
    "method_given_block.py": MADE_BY_METHOD.replace("def _make_layers(self, cfg):", "def _make_layers(self, cfg, block=None):")
    .replace("nn.Conv2d(in_channels, x, kernel_size=3, padding=1), {NORM}", "block(in_channels, x),"),
    "over_models_plain.py": OVER_MODELS.replace("{WIDE}", "nn.ReLU()"),
    "over_models_dropout.py": OVER_MODELS.replace("{WIDE}", "nn.Dropout(0.5)"),
    "fit_ends_in_eval.py": _fit(TRAINS, TESTS),
    "fit_ends_in_eval_renamed.py": _fit(TRAINS, TESTS, target="net"),
    "fit_ends_in_train.py": _fit(TESTS, TRAINS),
    "fit_ends_in_train_renamed.py": _fit(TESTS, TRAINS, target="net"),
    # A loop that trains nothing may run zero times: the model can leave it in training mode.
    "loop_may_not_run.py": _fit(SCORES, TESTS).replace("def fit(", "def score(model, loader):\n"
                                                         "    return 0.0\n\ndef fit("),
}

# file -> (the evaluation's text, severity, a word the message must hold)
EXPECTED = {
    "helper_plain.py": ("pred = model(x_valid)", "info", "harmless as written"),
    "helper_dropout.py": ("pred = model(x_valid)", "error", "nn.Dropout"),
    "list_plain.py": ("pred = model(x_test", "info", "harmless as written"),
    "list_dropout.py": ("pred = model(x_test", "error", "nn.Dropout"),
    "list_conditional_dropout.py": ("pred = model(x_test", "error", "nn.Dropout"),
    "list_extended_norm.py": ("pred = model(x_test", "error", "nn.BatchNorm1d"),
    "list_appended_after.py": ("pred = model(x_test", "info", "harmless as written"),
    "list_handed_on.py": ("pred = model(x_test", "error", "if it has any"),
    "list_either_branch.py": ("pred = model(x_test", "error", "nn.Dropout"),
    "module_list_plain.py": ("print((model(x_test)", "info", "harmless as written"),
    "module_list_dropout.py": ("print((model(x_test)", "error", "nn.Dropout"),
    "method_plain.py": ("print((model(x_test)", "info", "harmless as written"),
    "method_norm.py": ("print((model(x_test)", "error", "nn.BatchNorm2d"),
    "method_given_block.py": ("print((model(x_test)", "error", "if it has any"),
    "over_models_plain.py": ("return (model(x_valid)", "info", "harmless as written"),
    "over_models_dropout.py": ("return (model(x_valid)", "error", "nn.Dropout"),
    "fit_ends_in_eval.py": None,
    "fit_ends_in_eval_renamed.py": None,
    "fit_ends_in_train.py": ("pred = model(X_test", "error", "nn.Dropout"),
    "fit_ends_in_train_renamed.py": ("pred = net(X_test", "error", "nn.Dropout"),
    "loop_may_not_run.py": ("pred = model(X_test", "error", "nn.Dropout"),
}


def _line_of(name: str, text: str) -> int:
    lines = CASES[name].splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_layer_sources"), CASES, "TRN101")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_severity_follows_the_layers(found, name):
    if EXPECTED[name] is None:
        assert found[name] == []
        return
    text, severity, word = EXPECTED[name]
    line = _line_of(name, text)
    assert [(f["line"], f["severity"]) for f in found[name]] == [(line, severity)]
    assert word in found[name][0]["message"]


# -- a model class in a notebook cell that does not parse (an exercise's blanks) ---------------

def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": cell} for cell in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


HELPER_CELL = HEAD + """def plot_reconstruction(model, loader):
    x, _ = next(iter(loader))
    out = model(x)
    show(torch.cat([x, out.detach()], dim=3))
"""
WRITTEN = """class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 20)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        return self.drop(self.fc(x))
"""
BLANK = """class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = # your code here

    def forward(self, x):
        # your code here
"""
USE_CELL = """model = VAE()
optimizer = torch.optim.Adam(model.parameters())
model.train()
for epoch in range(10):
    for x, _ in loader:
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
plot_reconstruction(model, loader)
"""
NOTEBOOKS = {
    "written.ipynb": _notebook(HELPER_CELL, WRITTEN, USE_CELL),
    "blank.ipynb": _notebook(HELPER_CELL, BLANK, USE_CELL),
    # The evaluated model holds another package's model: unknown, but not for want of parsing.
    "unknown_body.ipynb": _notebook(HELPER_CELL.replace("import torch\n", "import timm\nimport torch\n"),
                                    WRITTEN.replace("nn.Dropout(0.2)", "timm.create_model('vit_tiny')"),
                                    BLANK.replace("class VAE", "class Other"), USE_CELL),
}


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_unparsed"), NOTEBOOKS, "TRN000,TRN101")


def test_model_class_in_a_cell_that_does_not_parse(notebooks):
    """No layers to read and code that cannot run: TRN000 on the cell, no TRN101 guess."""
    (written,) = notebooks["written.ipynb"]
    assert written["code"] == "TRN101" and written["severity"] == "error" and "nn.Dropout" in written["message"]
    assert [f["code"] for f in notebooks["blank.ipynb"]] == ["TRN000"]
    unknown = sorted((f["code"], f["severity"]) for f in notebooks["unknown_body.ipynb"])
    assert unknown == [("TRN000", "error"), ("TRN101", "error")]
