"""TRN101-TRN103 across scopes and by behaviour, through the real command.

Each family has its bug and the correct look-alike a naive matcher would flag: models
at module level or on `self` read by other functions, evaluation recognised by what is
done with the output (not by names), severity from the layers that depend on the mode.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\n\n"
DROPOUT_NET = "nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))"

GLOBAL_TUTORIAL = HEAD + f"""
model = {DROPOUT_NET}
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()

def train(epoch):
    {{train_switch}}
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()

def test():
    {{test_switch}}
    correct = 0
    with torch.no_grad():
        for x, y in test_loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct

for epoch in range(3):
    train(epoch)
    test()
"""

CASES = {
    # Boundaries: a module-level model used by `def test():` (the tutorial style).
    "global_test_bad.py": GLOBAL_TUTORIAL.format(train_switch="model.train()", test_switch="pass"),
    "global_test_ok.py": GLOBAL_TUTORIAL.format(train_switch="model.train()", test_switch="model.eval()"),
    # test() leaves the global model in eval mode and train() never switches it back.
    "global_train_bad.py": GLOBAL_TUTORIAL.format(train_switch="pass", test_switch="model.eval()"),
    # The caller's local `model` is not the global the callee reads.
    "global_shadowed_ok.py": HEAD + f"""
model = {DROPOUT_NET}
model.eval()

def report():
    with torch.no_grad():
        print(model(x_test).argmax(1))

def main():
    model = {DROPOUT_NET}
    model.train()
    report()

main()
""",
    # A model built in __init__ and never switched anywhere: training mode in every method.
    "self_model_unswitched_bad.py": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.bn(x))

class Trainer:
    def __init__(self):
        self.model = Net()
        self.opt = torch.optim.Adam(self.model.parameters())

    def fit(self, loader):
        for x, y in loader:
            self.opt.zero_grad()
            nn.functional.cross_entropy(self.model(x), y).backward()
            self.opt.step()

    def evaluate(self, loader):
        with torch.no_grad():
            return sum((self.model(x).argmax(1) == y).sum().item() for x, y in loader)
""",
    # Switched by fit(); evaluate() has no caller here: its mode is the caller's, unknown.
    "self_model_unknown_ok.py": HEAD + """
class Trainer:
    def __init__(self, make):
        self.model = make()
        self.opt = torch.optim.Adam(self.model.parameters())

    def fit(self, loader):
        self.model.train()
        for x, y in loader:
            self.opt.zero_grad()
            nn.functional.cross_entropy(self.model(x), y).backward()
            self.opt.step()

    def evaluate(self, loader):
        with torch.no_grad():
            return sum((self.model(x).argmax(1) == y).sum().item() for x, y in loader)
""",
    # Names vs behaviour: a helper named for nothing, whose model parameter is `m`.
    "behaviour_helper_bad.py": HEAD + f"""
def score(m, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (m(x).argmax(1) == y).sum().item()
    return correct

def main(loader, held_out):
    net = {DROPOUT_NET}
    opt = torch.optim.Adam(net.parameters())
    for epoch in range(3):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        score(net, held_out)
""",
    # Named like evaluation, but its output is what the caller back-propagates.
    "named_eval_but_trains_ok.py": HEAD + f"""
def validate_batch(model, x, y):
    return nn.functional.cross_entropy(model(x), y)

def main(loader):
    net = {DROPOUT_NET}
    opt = torch.optim.Adam(net.parameters())
    net.train()
    for x, y in loader:
        opt.zero_grad()
        loss = validate_batch(net, x, y)
        loss.backward()
        opt.step()
""",
    # The seed tutorial: train at top level, then score the model on its inputs.
    "top_level_score_bad.py": HEAD + f"""
model = {DROPOUT_NET}
opt = torch.optim.Adam(model.parameters())
for epoch in range(100):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(X), Y)
    loss.backward()
    opt.step()

y_eval = model(X)
print((y_eval.argmax(1) == Y).float().mean().item())
""",
    # One training step at top level: the output reaches backward().
    "top_level_step_ok.py": HEAD + f"""
model = {DROPOUT_NET}
opt = torch.optim.Adam(model.parameters())
out = model(X)
loss = nn.functional.cross_entropy(out, Y)
print(out.argmax(1))
loss.backward()
opt.step()
""",
    # A generator sampled from noise after training: not an evaluation of held-out data.
    "gan_sampling_ok.py": HEAD + """
G = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 4))
D = nn.Sequential(nn.Linear(4, 1))
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
for real in loader:
    fake = G(torch.randn(64, 8))
    opt_d.zero_grad()
    (D(fake.detach()).mean() - D(real).mean()).backward()
    opt_d.step()
    opt_g.zero_grad()
    (-D(fake).mean()).backward()
    opt_g.step()

with torch.no_grad():
    print(G(torch.randn(16, 8)).cpu())
""",
    # GAN fixed noise named like validation data is noise, not data.
    "validation_noise_ok.py": HEAD + """
class Sampler:
    def __init__(self):
        self.generator = nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4))
        self.validation_z = torch.randn(8, 8)

    def on_epoch_end(self):
        print(self.generator(self.validation_z).mean().item())
""",
    # A smoke test in a model file: an untrained model on random input.
    "smoke_test_ok.py": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(x)

def test():
    net = Net()
    y = net(torch.randn(2, 3, 32, 32))
    print(y.size())
""",
    # Severity: nothing in the model depends on the mode.
    "linear_only_info.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
with torch.no_grad():
    test_logits = model(x_test)
""",
    "functional_dropout_error.py": HEAD + """
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(F.dropout(x, 0.2, training=self.training))

model = Net()
with torch.no_grad():
    test_logits = model(x_test)
""",
    # A notebook defines the class again, now with dropout: the definition in force counts.
    "redefined_class_error.py": HEAD + """
class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.dropout = nn.Dropout(0.2)

    def forward(self, x):
        return self.fc(self.dropout(x))

model = Classifier()
with torch.no_grad():
    print(model(x_test))
""",
    "imported_model_error.py": HEAD + """
import torchvision

model = torchvision.models.resnet18()
with torch.no_grad():
    test_logits = model(x_test)
""",
    # TRN102: calls that are not forward passes, and tensors handed back by a public method.
    "not_forward_passes_ok.py": HEAD + """
from accelerate import Accelerator

accelerator = Accelerator()

def export(clf, model):
    clf.save_model("test_model")
    unwrapped = accelerator.unwrap_model(model)
    return unwrapped

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)

    def predict(self, x):
        return self(x)
""",
    "private_helper_bad.py": HEAD + """
class Wrapper:
    def __init__(self, net):
        self.net = net

    def report(self, loader):
        for x, y in loader:
            print((self.net(x).argmax(1) == y).float().mean().item())
""",
    # TRN103: a frozen teacher, the optimizer built by a helper from the student's params.
    "frozen_teacher_ok.py": HEAD + """
from .optim_utils import param_groups

def distill(student, teacher, loader, epochs):
    teacher.eval()
    optimizer = torch.optim.AdamW(param_groups(student, weight_decay=0.05))
    for epoch in range(epochs):
        student.train()
        for x, y in loader:
            with torch.no_grad():
                soft = teacher(x)
            loss = nn.functional.kl_div(student(x).log_softmax(-1), soft.softmax(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
""",
    # TRN103 follows the layers like TRN101: eval mode left on a model whose layers, all
    # visible, have no dropout or batch norm trains the same (info); with dropout, error.
    "train_mode_linear_only_info.py": HEAD + """
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.1)

def run(loader, val_loader):
    for epoch in range(3):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            print([net(x) for x, _ in val_loader])
""",
    "train_mode_dropout_error.py": HEAD + """
net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.1)

def run(loader, val_loader):
    for epoch in range(3):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            print([net(x) for x, _ in val_loader])
""",
    "unreadable_optimizer_bad.py": HEAD + """
from .optim_utils import param_groups

def fit(model, loader, val_loader, epochs):
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.05))
    model.train()
    for epoch in range(epochs):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
""",
    # Review families: one-layer recurrent dropout does nothing; a helper serving both modes
    # from a flag; periodic evaluation inside the training loop; a pipeline object; an
    # optimizer class from transformers over the student's params.
    "single_layer_rnn_info.py": HEAD + """
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(4, 8, dropout=0.5)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.rnn(x)[0])

model = Tagger()
with torch.no_grad():
    print(model(x_test))
""",
    "mode_from_flag_ok.py": HEAD + """
def run(model, loader, train):
    if train:
        model.train()
    if not train:
        model.eval()
    with torch.no_grad():
        for x, y in loader:
            print((model(x).argmax(1) == y).float().mean().item())

def main(loader):
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    run(model, loader, True)
    run(model, loader, False)
""",
    "mode_from_flag_compared_ok.py": HEAD + """
def run(model, loader, train):
    if (train == True):
        model.train()
    if (train == False):
        model.eval()
    for x, y in loader:
        print((model(x).argmax(1) == y).float().mean().item())

def main(loader):
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    run(model, loader, train=True)
    run(model, loader, train=False)
""",
    "periodic_eval_in_loop_bad.py": HEAD + f"""
cnn = {DROPOUT_NET}
opt = torch.optim.Adam(cnn.parameters())
for step, (x, y) in enumerate(train_loader):
    loss = nn.functional.cross_entropy(cnn(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        accuracy = (cnn(test_x).argmax(1) == test_y).float().mean().item()
""",
    "top_level_test_data_info.py": HEAD + f"""
model = {DROPOUT_NET}
model.eval()
print(model(x_test).argmax(1))
""",
    # The output is read by a nested function: evaluation named by `test()` still holds.
    "closure_reader_bad.py": HEAD + f"""
@torch.no_grad()
def test(model, data, y):
    h = model(data)

    def score(rows):
        return (h[rows].argmax(1) == y[rows]).float().mean().item()

    return score(slice(0, 10))

def main(data, y, opt):
    model = {DROPOUT_NET}
    model.train()
    opt.zero_grad()
    nn.functional.cross_entropy(model(data), y).backward()
    opt.step()
    test(model, data, y)
""",
    # Several new models, each printed once: smoke tests, whatever else is built between.
    "several_smoke_tests_ok.py": HEAD + f"""
first = {DROPOUT_NET}
second = {DROPOUT_NET}
print(first(torch.randn(2, 4)).argmax(1))
print(second(torch.randn(2, 4)).argmax(1))
""",
    # A Lightning callback's validation hook runs with autograd off and the module in eval.
    "lightning_callback_ok.py": HEAD + """
import pytorch_lightning as pl

class OnlineProbe(pl.Callback):
    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        x, y = batch
        preds = pl_module.probe(pl_module(x))
        pl_module.log("probe_acc", (preds.argmax(1) == y).float().mean())
""",
    # Only the shape of the output is read: a look at the model, not an evaluation.
    "shape_on_val_data_ok.py": HEAD + f"""
model = {DROPOUT_NET}
opt = torch.optim.Adam(model.parameters())
for x, y in train_loader:
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
for img, label in val_loader:
    print(model(img).shape)
    break
""",
    "pipeline_ok.py": HEAD + """
from transformers import pipeline

classifier = pipeline("image-classification", model="some/checkpoint")

def evaluate(images):
    return [classifier(image) for image in images]
""",
    "transformers_optimizer_teacher_ok.py": HEAD + """
from transformers import AdamW

def distill(student, teacher_model, loader):
    teacher_model.eval()
    params = [{"params": [p for n, p in student.named_parameters()], "weight_decay": 0.0}]
    optimizer = AdamW(params, lr=1e-4)
    for epoch in range(2):
        for batch in loader:
            with torch.no_grad():
                target = teacher_model(batch)
            loss = nn.functional.mse_loss(student(batch), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
""",
}

EXPECTED = {
    "global_test_bad.py": [("TRN101", 21)],
    "global_test_ok.py": [],
    "global_train_bad.py": [("TRN103", 14)],
    "global_shadowed_ok.py": [],
    "self_model_unswitched_bad.py": [("TRN101", 27)],
    "self_model_unknown_ok.py": [],
    "behaviour_helper_bad.py": [("TRN101", 9)],
    "named_eval_but_trains_ok.py": [],
    "top_level_score_bad.py": [("TRN101", 13)],
    "top_level_step_ok.py": [],
    "gan_sampling_ok.py": [],
    "validation_noise_ok.py": [],
    "smoke_test_ok.py": [],
    "linear_only_info.py": [("TRN101", 7)],
    "functional_dropout_error.py": [("TRN101", 17)],
    "imported_model_error.py": [("TRN101", 9)],
    "redefined_class_error.py": [("TRN101", 24)],
    "single_layer_rnn_info.py": [("TRN101", 16)],
    "mode_from_flag_ok.py": [],
    "mode_from_flag_compared_ok.py": [("TRN102", 11)],
    "periodic_eval_in_loop_bad.py": [("TRN101", 13), ("TRN102", 13)],
    "pipeline_ok.py": [],
    "lightning_callback_ok.py": [],
    "shape_on_val_data_ok.py": [],
    "closure_reader_bad.py": [("TRN101", 7)],
    "several_smoke_tests_ok.py": [],
    "top_level_test_data_info.py": [("TRN102", 7)],
    "transformers_optimizer_teacher_ok.py": [],
    "not_forward_passes_ok.py": [],
    "private_helper_bad.py": [("TRN102", 11)],
    "frozen_teacher_ok.py": [],
    "unreadable_optimizer_bad.py": [("TRN103", 15)],
    "train_mode_linear_only_info.py": [("TRN103", 13)],
    "train_mode_dropout_error.py": [("TRN103", 13)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_boundaries"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_severity_follows_the_layers(found):
    [linear] = found["linear_only_info.py"]
    assert linear["severity"] == "info"
    assert "no dropout or batch norm" in linear["message"] and "dropout active" not in linear["message"]
    [functional] = found["functional_dropout_error.py"]
    assert functional["severity"] == "error" and "F.dropout" in functional["message"]
    [unknown] = found["imported_model_error.py"]
    assert unknown["severity"] == "error" and "if it has any" in unknown["message"]
    assert found["redefined_class_error.py"][0]["severity"] == "error"
    assert found["single_layer_rnn_info.py"][0]["severity"] == "info"
    [batch_norm] = found["self_model_unswitched_bad.py"]
    assert "nn.BatchNorm1d" in batch_norm["message"]
    [train_linear] = found["train_mode_linear_only_info.py"]
    assert train_linear["severity"] == "info" and "no dropout or batch norm" in train_linear["message"]
    assert found["train_mode_dropout_error.py"][0]["severity"] == "error"


def test_behaviour_evidence_is_named(found):
    [score] = [f for f in found["top_level_score_bad.py"] if f["code"] == "TRN101"]
    assert "never reaches `backward()`" in score["message"]


def test_one_top_level_forward_without_no_grad_is_hygiene(found):
    # Given evaluation data: info; a demo's one prediction (behaviour alone): nothing.
    [once] = [f for f in found["linear_only_info.py"] + found["periodic_eval_in_loop_bad.py"]
              if f["code"] == "TRN102"]
    assert once["severity"] == "warning"
    assert not [f for f in found["top_level_score_bad.py"] if f["code"] == "TRN102"]
    [data] = found["top_level_test_data_info.py"]
    assert data["severity"] == "info" and "once, at top level" in data["message"]
    [looped] = found["private_helper_bad.py"]
    assert looped["severity"] == "warning"
