"""TRN101-TRN103 on families first seen in real projects, through the real command.

- a model class re-exported by a package (`from unet import UNet`, where `unet/__init__.py`
  holds `from .unet_model import UNet`), built in the training script and handed, through
  the training function, to an evaluation function of a third module;
- an output renamed onto itself (`pred = (pred.sigmoid() > 0.5).float()`) is still read;
- dropout that runs only when a forward argument asks for it (`if is_training:`): the
  caller, not the mode, decides.

Each with the correct look-alike that a naive matcher would flag.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

PARTS = """
import torch.nn as nn

class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        return self.body(x)
"""

# `nn` reaches the model module only through the star import: no `torch` in its text.
UNET = """
from .parts import *

class UNet(nn.Module):
    def __init__(self, n_channels, n_classes):
        super().__init__()
        self.inc = DoubleConv(n_channels, 16)
        self.outc = nn.Conv2d(16, n_classes, 1)

    def forward(self, x):
        return self.outc(self.inc(x))
"""

EVAL = """
import torch


def eval_net(net, dataset):
    tot = 0
    for img, true_mask in dataset:
        mask_pred = net(img)[0]
        mask_pred = (torch.sigmoid(mask_pred) > 0.5).float()
        tot += (mask_pred == true_mask).float().mean().item()
    return tot
"""

TRAIN = """
import torch
import torch.nn as nn

from {eval_module} import eval_net
from {package} import UNet


def train_net(net, train_data, val_data, epochs=5):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    criterion = nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        net.train()
        for imgs, masks in train_data:
            loss = criterion(net(imgs), masks)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        {before_eval}
        val_dice = {call}
        print(val_dice)


if __name__ == "__main__":
    net = UNet(n_channels=3, n_classes=1)
    train_net(net=net, train_data=[], val_data=[])
"""


def _unet_project(directory: str, before_eval: str, call: str = "eval_net(net, val_data)") -> dict:
    package = f"{directory}_nets"
    return {
        f"{directory}/{package}/__init__.py": "from .unet import UNet\n",
        f"{directory}/{package}/parts.py": PARTS,
        f"{directory}/{package}/unet.py": UNET,
        f"{directory}/{directory}_eval.py": EVAL,
        f"{directory}/{directory}_train.py": TRAIN.format(eval_module=f"{directory}_eval", package=package,
                                                        before_eval=before_eval, call=call),
    }


GATED_CLASS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self, extra=None):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 2)
        self.dropout = nn.Dropout(0.3)
        {extra_layer}

    def forward(self, x, is_training=False):
        h = torch.relu(self.fc1(x))
        {gate}
            h = self.dropout(h)
        {extra_use}
        return self.fc2(h)


model = Classifier()
optimizer = torch.optim.Adam(model.parameters())
for x, y in train_data:
    model.zero_grad()
    F.cross_entropy(model(x, True), y).backward()
    optimizer.step()

accuracy = 0
for x, y in test_data:
    pred = {test_call}.max(1)[1]
    accuracy += (pred == y).sum().item()
"""


def _gated(gate: str = "if is_training:", test_call: str = "model(x)", extra_layer: str = "",
           extra_use: str = "") -> str:
    return GATED_CLASS.format(gate=gate, test_call=test_call, extra_layer=extra_layer, extra_use=extra_use)


FUNCTIONAL_GATE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x, train=False):
        h = F.dropout(torch.relu(self.fc1(x)), p=0.5, training=train)
        return self.fc2(h)


model = Tagger()
optimizer = torch.optim.Adam(model.parameters())
for x, y in train_data:
    model.zero_grad()
    F.cross_entropy(model(x, train=True), y).backward()
    optimizer.step()

for x, y in test_data:
    print((model(x).argmax(1) == y).float().mean().item())
"""

REBOUND = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train():
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
        optimizer.step()


def evaluate():
    hits = 0
    for x, y in val_loader:
        pred = model(x)
        pred = (torch.sigmoid(pred) > 0.5).float()
        hits += (pred == y).sum().item()
    return hits


def validate_step(x, y):
    # Named for evaluation, but the renamed output reaches backward: a training step.
    out = model(x)
    out = nn.functional.binary_cross_entropy_with_logits(out, y)
    out.backward()
    optimizer.step()


for epoch in range(3):
    train()
    print(evaluate())
"""

HELPERS = """
import torch


def train_model(model, loader, criterion, optimizer):
    model.train()
    for images, masks in loader:
        loss = criterion(model(images), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def get_loss_train(model, loader, criterion):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for images, masks in loader:
            total += criterion(model(images), masks).item()
    return total


def validate_model(model, loader):
    correct = 0
    with torch.no_grad():
        for images, masks in loader:
            correct += (model(images).argmax(1) == masks).sum().item()
    return correct
"""

MAIN = """
import torch
import torch.nn as nn

from {helpers} import *


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 2, 1))

    def forward(self, x):
        return self.body(x)


model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001)
for epoch in range(100):
    train_model(model, train_loader, criterion, optimizer)
    {between}
    print(validate_model(model, val_loader))
"""

LEGACY_VOLATILE = """
import torch
import torch.nn as nn
from torch.autograd import Variable

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for x, y in train_loader:
        x, y = Variable(x), Variable(y)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    correct = 0
    with {grad_off}:
        for x, y in test_loader:
            if use_gpu:
                x = Variable(x, volatile=True).cuda()
            else:
                x = {else_branch}
            out = model(x)
            correct += (out.data.max(1)[1] == y).sum()
        print(correct, model(Variable(x_test, volatile=True)).data.max(1)[1])
"""

ANALYZER = """
import torch


class ModelAnalyzer:
    def __init__(self, scaler):
        self.scaler = scaler

    def analyze_best_model(self, model, x_test, y_test):
        model.eval()
        with torch.no_grad():
            preds = model(torch.tensor(x_test)).cpu().numpy()
        return self.scaler.inverse_transform(preds)


def run_analysis(scaler, best_model, X_test, y_test):
    analyzer = ModelAnalyzer(scaler)
    results = analyzer.analyze_best_model(best_model, X_test, y_test)
    return results
"""

FEATURES = """
import torch
import torchvision


class FeatureExtraction{suffix}:
    def __init__(self, train_loader):
        self.train_loader = train_loader
        self.model = torchvision.models.resnet18(pretrained=True)

    def extract(self):
        features = []
        for images, labels in self.train_loader:
            features.append(self.model(images).cpu().numpy())
        return features
{tests}"""

RATE_GATE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class GraphNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x, d):
        h = F.relu(self.fc1(x))
        h = nn.Dropout(d)(h)
        return self.fc2(h)


net = GraphNet()
optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
for x, y in train_batches:
    loss = F.cross_entropy(net(x, 0.5), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()

with torch.no_grad():
    for x, y in test_batches:
        print((net(x, {test_rate}).argmax(1) == y).float().mean().item())
"""

PRETRAINED = """
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2).to("cuda")
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
{before}
for epoch in range(3):
    for batch in train_loader:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
"""

PRETRAINED_DEMO = """
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
with torch.no_grad():
    print(model(**batch).logits.argmax(-1))
optimizer = torch.optim.AdamW(model.parameters())
loss = model(**batch).loss
loss.backward()
optimizer.step()
"""

TRAINER = """
import torch


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader

    def train_epoch(self):
        self.model.train()
        for x, y in self.train_loader:
            self.optimizer.zero_grad()
            torch.nn.functional.cross_entropy(self.model(x), y).backward()
            self.optimizer.step()

    def validate(self):
        {switch}
        correct = 0
        with torch.no_grad():
            for x, y in self.val_loader:
                correct += (self.model(x).argmax(1) == y).sum().item()
        return correct


trainer = Trainer(net, optimizer, train_loader, val_loader)
for epoch in range(5):
    trainer.train_epoch()
    print(trainer.validate())
"""

LOADED_WHOLE = """
import torch

model = torch.load("checkpoints/model.pt")
model.to("cuda").eval()


def inference(batch):
    {wrap}
    logits = model(batch.to("cuda"))
    return logits.argmax(-1).cpu().tolist()
"""

FACTORY_MODELS = """
import torch.nn as nn


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))

    def forward(self, x):
        return self.body(x)


def get_model(name):
    if name == "LeNet":
        model = LeNet()
    else:
        model = nn.Sequential(nn.Linear(4, 2))
    return model.to("cuda")


def load_for_inference(path):
    model = LeNet()
    model.eval()
    return model
"""

FACTORY_EVALUATION = """
import torch


def validate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""

FACTORY_TRAIN = """
import torch
import torch.nn as nn

from {prefix}_models import get_model, load_for_inference
from {prefix}_evaluation import validate


def main():
    model = get_model("LeNet")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        for x, y in train_loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        {before}
        print(validate(model, val_loader))
        {after}


def report():
    print(validate(load_for_inference("best.pt"), test_loader))
"""

WRAPPED = """
import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
model = nn.DataParallel(net)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    model.{train}()
    for x, y in train_loader:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.{evaluate}()
    with torch.no_grad():
        for x, y in val_loader:
            print((model(x).argmax(1) == y).float().mean().item())
"""

RENDERER = """
import torch
import torch.nn as nn


def look_at(eye):
    return torch.stack([eye, torch.zeros_like(eye)]).view(-1)


class DepthRenderer(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = size
        self.register_buffer("view", look_at(torch.ones(3)))
        {extra}

    def forward(self, points):
        return (points * self.view[:3]).sum(-1)


render = DepthRenderer(64)
for points, labels in test_loader:
    print(render(points).max().item())
"""

CLOSURE = """
import torch
import torch.nn as nn


def main(train_loader, val_loader):
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def evaluate():
        {enter}
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        {leave}
        return correct

    for epoch in range(3):
        {top}
        for x, y in train_loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        print(evaluate())
"""

CHAINED = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))

    def forward(self, x):
        return self.body(x)


def main(x_test):
    encoder = Encoder(){chain}
    encoder.load_state_dict(torch.load("encoder.pt"))
    with torch.no_grad():
        for x in x_test:
            print(encoder(x).argmax(1).tolist())
"""

SMOKE = """
import torch
import torch.nn as nn


def make_discriminator():
    return nn.Sequential(nn.Linear(784, 64), nn.Dropout(0.5), nn.Linear(64, 1), nn.Sigmoid())


def create_noise(batch_size, z_size):
    return torch.rand(batch_size, z_size) * 2 - 1


disc_model = make_discriminator()
print(disc_model)
input_z = create_noise(32, 20)
d_proba_real = disc_model(input_real)
print("Disc. (real) -- shape:", d_proba_real.shape, d_proba_real.mean().item())
"""

GENERATE = """
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 32)
        self.gru = nn.GRU(32, 32)
        self.out = nn.Linear(32, 100)

    def forward(self, x, hidden):
        output, hidden = self.gru(self.embedding(x).view(1, 1, -1), hidden)
        return self.out(output.view(1, -1)), hidden


def generate(decoder, start, length=100):
    hidden = torch.zeros(1, 1, 32)
    inp = start
    text = []
    for _ in range(length):
        {step}
        top_i = torch.multinomial(output.data.view(-1).exp(), 1)[0]
        text.append(int(top_i))
        inp = top_i.view(1)
    return text


decoder = CharRNN()
opt = torch.optim.Adam(decoder.parameters())
for step, (x, y) in enumerate(pairs):
    hidden = torch.zeros(1, 1, 32)
    out, hidden = decoder(x, hidden)
    nn.functional.cross_entropy(out, y).backward()
    opt.step()
    if step % 100 == 0:
        print(generate(decoder, x))
"""

THROUGH_MODEL = """
import torch
import torch.nn as nn


class Predictor:
    def __init__(self):
        self.network = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        self.optimizer = torch.optim.SGD(self.network.parameters(), lr=0.1)

    def update(self, x, y):
        self.network.train()
        loss = nn.functional.cross_entropy(self.network(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def predict(self, batch):
        self.network.eval()
        score = self.network(batch)
        return score.argmax(1).tolist()
"""

THROUGH_INFERENCE = """
import torch


def eval_model(model, data):
    predictions = []
    for batch in data:
        predictions.extend(model.predict(batch))
    return predictions
"""

THROUGH_TRAIN = """
import torch
from {prefix}_model import Predictor
from {prefix}_inference import eval_model


def evaluation(model, data):
    with {context}:
        return eval_model(model, data)


def main(train_data, dev_data):
    model = Predictor()
    for x, y in train_data:
        model.update(x, y)
    print(evaluation(model, dev_data))
"""

TEMPLATE = """
import torch
import torch.nn as nn
import numpy as np
from abc import abstractmethod


class MetaTemplate(nn.Module):
    def __init__(self, model_func, n_way):
        super().__init__()
        self.n_way = n_way
        self.feature = model_func()

    @abstractmethod
    def set_forward(self, x):
        pass

    def set_forward_loss(self, x):
        raise NotImplementedError

    def forward(self, x):
        return self.feature.forward(x)

    def correct(self, x):
        scores = self.set_forward(x)
        labels = np.repeat(range(self.n_way), x.size(1))
        return float(np.sum(scores.data.argmax(1).cpu().numpy() == labels)), len(labels)

    def train_loop(self, train_loader, optimizer):
        for x, _ in train_loader:
            optimizer.zero_grad()
            loss = self.set_forward_loss(x)
            loss.backward()
            optimizer.step()

    {decorator}
    def test_loop(self, test_loader):
        accuracies = []
        for x, _ in test_loader:
            correct, count = self.correct(x)
            accuracies.append(correct / count)
        return np.mean(accuracies)
"""

DICT_MODELS = """
import torch
import torch.nn as nn


def build():
    return {{"encoder": nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2)), "decoder": nn.Linear(8, 2)}}


{decorator}
def evaluate(models, val_loader):
    for m in models.values():
        m.eval()
    correct = 0
    for x, y in val_loader:
        out = models["decoder"](models["encoder"](x))
        correct += (out.argmax(1) == y).sum().item()
    return correct


def main(train_loader, val_loader):
    models = build()
    params = list(models["encoder"].parameters()) + list(models["decoder"].parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    for epoch in range(3):
        for m in models.values():
            m.train()
        for x, y in train_loader:
            loss = nn.functional.cross_entropy(models["decoder"](models["encoder"](x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(evaluate(models, val_loader))


class Trainer:
    def __init__(self):
        self.nets = {{"g": nn.Linear(4, 4)}}

    def validate(self, loader):
        self.nets["g"].eval()
        total = 0
        with {context}:
            for x, y in loader:
                total += (self.nets["g"](x) - y).abs().sum().item()
        return total
"""

WEIGHTS_LOADER = """
import torch
import torch.nn as nn


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

    def load_weights(self, path):
        with open(path, "rb") as f:
            self.body[0].weight.data.copy_(torch.load(f))

    def forward(self, x):
        return self.body(x)


model = Detector()
model.load_weights("weights/detector.bin")
model.eval()
detections = []
with {context}:
    for images in loader:
        detections.append(model(images))
torch.save(detections, "out.pt")
"""

GAN_TRAINER = """
import torch


class Trainer(object):
    def __init__(self, model, criterion, loader):
        self.model = model
        self.criterion = criterion
        self.loader = loader

    def _eval_step(self, batch):
        z, y = batch
        y_ = self.model["generator"](z)
        p_ = self.model["discriminator"](y_)
        return self.criterion(p_, torch.ones_like(p_)).item()

    {decorator}
    def _eval_epoch(self):
        for key in self.model.keys():
            self.model[key].eval()
        total = 0.0
        for batch in self.loader["dev"]:
            total += self._eval_step(batch)
        for key in self.model.keys():
            self.model[key].train()
        return total
"""

CASES = {
    # The hidden state fed back into the model (`output, hidden = decoder(inp, hidden)`): the
    # renamed output is still read, only as sampled numbers.
    "generate_bad.py": GENERATE.format(step="output, hidden = decoder(inp, hidden)"),
    "generate_ok.py": GENERATE.format(step="with torch.no_grad():\n            output, hidden = decoder(inp, hidden)"),
    # `Encoder().eval()`: switched as it is built.
    "chained_eval_ok.py": CHAINED.format(chain=".eval()"),
    "chained_move_bad.py": CHAINED.format(chain=".to('cuda')"),
    # A new model's first look, with only a print and an unrelated helper before it: a smoke test.
    "smoke_with_helper_ok.py": SMOKE,
    # A function nested in main() reads main's model: the same object, in the same mode.
    "closure_bad.py": CLOSURE.format(enter="pass", leave="pass", top="model.train()"),
    "closure_ok.py": CLOSURE.format(enter="model.eval()", leave="model.train()", top="pass"),
    # The nested evaluation leaves it in eval mode, and the next epoch trains so.
    "closure_left_in_eval_bad.py": CLOSURE.format(enter="model.eval()", leave="pass", top="pass"),
    # A module with no parameters (a renderer): running it on test data is no evaluation.
    "renderer_ok.py": RENDERER.format(extra=""),
    # The same with a layer: a model whose mode and graph matter.
    "renderer_with_layer_bad.py": RENDERER.format(extra="self.proj = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.1))"),
    # Switching the module a DataParallel wrapper holds switches what the wrapper runs.
    "wrapped_module_ok.py": WRAPPED.format(train="train", evaluate="module.eval"),
    "wrapped_module_bad.py": WRAPPED.format(train="module.train", evaluate="module.train"),
    # A model built by a function of another module (`get_model("LeNet")`) is a fresh model.
    "factory_bad/factory_bad_models.py": FACTORY_MODELS,
    "factory_bad/factory_bad_evaluation.py": FACTORY_EVALUATION,
    "factory_bad/factory_bad_train.py": FACTORY_TRAIN.format(prefix="factory_bad", before="pass", after="pass"),
    "factory_ok/factory_ok_models.py": FACTORY_MODELS,
    "factory_ok/factory_ok_evaluation.py": FACTORY_EVALUATION,
    "factory_ok/factory_ok_train.py": FACTORY_TRAIN.format(prefix="factory_ok", before="model.eval()",
                                                                  after="model.train()"),
    # The same, in one file; a loader that switches to eval itself is no factory of fresh models.
    "factory_local_bad.py": FACTORY_MODELS + FACTORY_EVALUATION + """

def main():
    model = get_model("LeNet")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        for x, y in train_loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        print(validate(model, val_loader))
""",
    "factory_local_loader_ok.py": FACTORY_MODELS + FACTORY_EVALUATION + """

def report():
    print(validate(load_for_inference("best.pt"), test_loader))
""",
    # A whole model pickled with torch.save: torch.load gives a model back.
    "loaded_whole_bad.py": LOADED_WHOLE.format(wrap="pass"),
    "loaded_whole_ok.py": LOADED_WHOLE.format(wrap="torch.set_grad_enabled(False)"),
    # transformers returns loaded models in eval mode: a loop that never calls .train() trains
    # without dropout; `.train()` first is right; a one-step demo after loading is not reported.
    "pretrained_bad.py": PRETRAINED.format(before=""),
    "pretrained_ok.py": PRETRAINED.format(before="model.train()"),
    "pretrained_demo_ok.py": PRETRAINED_DEMO,
    # A trainer object driven from the script: its methods see `trainer.model` as `self.model`.
    "trainer_driven_bad.py": TRAINER.format(switch="pass"),
    "trainer_driven_ok.py": TRAINER.format(switch="self.model.eval()"),
    # The dropout rate is a forward argument: the test call passes 0.0, no dropout runs.
    "rate_gate_ok.py": RATE_GATE.format(test_rate="0.0"),
    "rate_gate_bad.py": RATE_GATE.format(test_rate="0.5"),
    # A method of the file's own helper class, named like a model: not a forward pass.
    "analyzer_ok.py": ANALYZER,
    # Named like a test module, but no test in it: a frozen feature extractor left in train mode.
    "feature_extraction_test.py": FEATURES.format(suffix="Test", tests=""),
    # A real test module: behaviour alone says nothing there.
    "features_case_test.py": FEATURES.format(suffix="", tests="""

def test_extract_shapes():
    assert FeatureExtraction([]).extract() == []
"""),
    # PyTorch >= 0.4 ignores `volatile`: volatile inputs on every path still build the graph
    # (upstreams fixed this code with no_grad); the same loop under no_grad is right.
    "volatile_bad.py": LEGACY_VOLATILE.format(else_branch="Variable(x, volatile=True)", grad_off="torch.autocast(\"cpu\")"),
    "volatile_one_branch_bad.py": LEGACY_VOLATILE.format(else_branch="Variable(x)", grad_off="torch.autocast(\"cpu\")"),
    "volatile_no_grad_ok.py": LEGACY_VOLATILE.format(else_branch="Variable(x, volatile=True)",
                                                     grad_off="torch.no_grad()"),
    # A wrapper's predict() reached through a function of another module that is handed the
    # wrapper (`eval_model(model)` -> `model.predict(batch)`): the grad mode of the call two
    # levels up decides (mt-dnn). Under no_grad: silent; under autocast only: the bug.
    "through_ok/through_ok_model.py": THROUGH_MODEL,
    "through_ok/through_ok_inference.py": THROUGH_INFERENCE,
    "through_ok/through_ok_train.py": THROUGH_TRAIN.format(prefix="through_ok", context="torch.no_grad()"),
    "through_bad/through_bad_model.py": THROUGH_MODEL,
    "through_bad/through_bad_inference.py": THROUGH_INFERENCE,
    "through_bad/through_bad_train.py": THROUGH_TRAIN.format(prefix="through_bad", context="torch.autocast('cpu')"),
    # A template model class whose `set_forward` is abstract (each subclass, in another
    # module, implements it as its forward pass): scoring test episodes through it runs the
    # model. With autograd on: the bug; under no_grad: silent.
    "abstract_template_bad.py": TEMPLATE.format(decorator="# scores every test episode"),
    "abstract_template_ok.py": TEMPLATE.format(decorator="@torch.no_grad()"),
    # Models kept in a dict (`models["encoder"](x)`, `self.nets["g"](x)`) evaluated with
    # autograd on: the bug; the same under no_grad: silent.
    "dict_models_bad.py": DICT_MODELS.format(decorator="", context="torch.autocast('cpu')"),
    "dict_models_ok.py": DICT_MODELS.format(decorator="@torch.no_grad()", context="torch.no_grad()"),
    # A detector restored by its own weight loader (`model.load_weights(path)`) is trained,
    # not a fresh model's smoke test: an inference loop with autograd on is the bug.
    "weights_loader_bad.py": WEIGHTS_LOADER.format(context="torch.autocast('cpu')"),
    "weights_loader_ok.py": WEIGHTS_LOADER.format(context="torch.no_grad()"),
    # A trainer's `self.model` handed in as a dict of models, its items switched to eval
    # (`self.model[key].eval()`): the dev-set step with autograd on is the bug.
    "dict_attribute_models_bad.py": GAN_TRAINER.format(decorator=""),
    "dict_attribute_models_ok.py": GAN_TRAINER.format(decorator="@torch.no_grad()"),
    # The helper called in between leaves the model in eval mode (another module's business:
    # what the script knew of the mode does not hold after it).
    "handed_on_ok/handed_on_ok_helpers.py": HELPERS,
    "handed_on_ok/handed_on_ok_main.py": MAIN.format(helpers="handed_on_ok_helpers",
                                                     between="get_loss_train(model, train_loader, criterion)"),
    # Nothing in between: validation runs right after training, in training mode.
    "handed_on_bad/handed_on_bad_helpers.py": HELPERS,
    "handed_on_bad/handed_on_bad_main.py": MAIN.format(helpers="handed_on_bad_helpers", between="pass"),
    **_unet_project("reexport_bad", before_eval="pass"),
    **_unet_project("reexport_ok", before_eval="net.eval()"),
    # The evaluation function's argument passed by keyword.
    **_unet_project("keyword_bad", before_eval="pass", call="eval_net(net=net, dataset=val_data)"),
    **_unet_project("keyword_ok", before_eval="net.eval()", call="eval_net(net=net, dataset=val_data)"),
    "gated_ok.py": _gated(),
    "gated_true_bad.py": _gated(test_call="model(x, is_training=True)"),
    "gated_compared_ok.py": _gated(gate="if is_training == True:"),
    "gated_self_training_bad.py": _gated(gate="if self.training:"),
    "gated_with_batch_norm_bad.py": _gated(extra_layer="self.norm = nn.BatchNorm1d(16)",
                                           extra_use="h = self.norm(h)"),
    "functional_gate_ok.py": FUNCTIONAL_GATE,
    "rebound_output_bad.py": REBOUND,
}

EXPECTED = {
    "generate_bad.py": [("TRN101", 22), ("TRN102", 22)],  # TRN101: info, no dropout in one GRU layer
    "generate_ok.py": [("TRN101", 23)],
    "chained_eval_ok.py": [],
    "chained_move_bad.py": [("TRN101", 19)],
    "smoke_with_helper_ok.py": [],
    "closure_bad.py": [("TRN101", 14)],
    "closure_ok.py": [],
    "closure_left_in_eval_bad.py": [("TRN103", 23)],
    "renderer_ok.py": [],
    "renderer_with_layer_bad.py": [("TRN101", 22), ("TRN102", 22)],
    "wrapped_module_ok.py": [],
    "wrapped_module_bad.py": [("TRN101", 16)],
    "factory_bad/factory_bad_evaluation.py": [("TRN101", 8)],
    "factory_ok/factory_ok_evaluation.py": [],
    "factory_local_bad.py": [("TRN101", 33)],
    "factory_local_loader_ok.py": [],
    "loaded_whole_bad.py": [("TRN102", 9)],
    "loaded_whole_ok.py": [],
    "pretrained_bad.py": [("TRN103", 12)],
    "pretrained_ok.py": [],
    "pretrained_demo_ok.py": [],
    "trainer_driven_bad.py": [("TRN101", 23)],
    "trainer_driven_ok.py": [],
    "rate_gate_ok.py": [],
    "rate_gate_bad.py": [("TRN101", 28)],
    "analyzer_ok.py": [],
    "feature_extraction_test.py": [("TRN101", 13), ("TRN102", 13)],
    "features_case_test.py": [],
    "volatile_bad.py": [("TRN102", 24), ("TRN102", 26)],  # the test loop, and the one-off forward after it
    "volatile_one_branch_bad.py": [("TRN102", 24), ("TRN102", 26)],
    "volatile_no_grad_ok.py": [],
    "handed_on_ok/handed_on_ok_helpers.py": [],
    "handed_on_bad/handed_on_bad_helpers.py": [("TRN101", 26)],
    "reexport_bad/reexport_bad_eval.py": [("TRN101", 7), ("TRN102", 7)],
    "reexport_ok/reexport_ok_eval.py": [("TRN102", 7)],
    "keyword_bad/keyword_bad_eval.py": [("TRN101", 7), ("TRN102", 7)],
    "keyword_ok/keyword_ok_eval.py": [("TRN102", 7)],
    "gated_ok.py": [("TRN102", 31)],
    "gated_true_bad.py": [("TRN101", 31), ("TRN102", 31)],
    "gated_compared_ok.py": [("TRN102", 31)],
    "gated_self_training_bad.py": [("TRN101", 31), ("TRN102", 31)],
    "gated_with_batch_norm_bad.py": [("TRN101", 31), ("TRN102", 31)],
    "functional_gate_ok.py": [("TRN102", 25)],
    "abstract_template_bad.py": [("TRN102", 24)],
    "abstract_template_ok.py": [],
    "dict_models_bad.py": [("TRN102", 15), ("TRN102", 44)],
    "dict_models_ok.py": [],
    "weights_loader_bad.py": [("TRN102", 24)],
    "weights_loader_ok.py": [],
    "dict_attribute_models_bad.py": [("TRN102", 12)],
    "dict_attribute_models_ok.py": [],
    "through_ok/through_ok_model.py": [],
    "through_bad/through_bad_model.py": [("TRN102", 19)],
    "rebound_output_bad.py": [("TRN101", 19), ("TRN102", 19)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_projects"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_the_message_says_where_eval_mode_came_from(found):
    [finding] = found["pretrained_bad.py"]
    assert "from_pretrained()" in finding["message"] and finding["severity"] == "error"


def test_nothing_else_is_reported(found):
    # The training scripts train in training mode; the packages hold no evaluation.
    extra = {name: codes_lines(findings) for name, findings in found.items() if findings and name not in EXPECTED}
    assert extra == {}


# A model class reached through two package levels of star imports (`from .nets import *`
# in models/__init__.py, `from .net import *` in models/nets/__init__.py), in two script
# directories that both hold a `models` package: each file's view of the project must walk
# the re-exports to its own model class to know whether the mode matters.
STARRED_NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        {layer}

    def forward(self, x):
        return self.fc({input})
"""

STARRED_TRAIN = """
import torch
import torch.nn as nn
from models import Net

model = Net()
criterion = nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def test(loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


for epoch in range(3):
    model.train()
    for x, y in train_loader:
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
    val_loader = train_loader
    print(test(val_loader))
"""


def _starred_project(directory: str, with_dropout: bool) -> dict:
    layer, given = ("self.drop = nn.Dropout(0.5)", "self.drop(x)") if with_dropout else ("", "x")
    return {
        f"{directory}/models/__init__.py": "from .nets import *\n",
        f"{directory}/models/nets/__init__.py": "from .net import *\n",
        f"{directory}/models/nets/net.py": STARRED_NET.format(layer=layer, input=given),
        f"{directory}/train.py": STARRED_TRAIN,
    }


def test_model_class_through_nested_star_reexports_in_each_script_directory(tmp_path):
    found = run_cases(tmp_path, {**_starred_project("a", with_dropout=True),
                                 **_starred_project("b", with_dropout=False)}, "TRN101")
    dropout, = found["a/train.py"]
    assert dropout["severity"] == "error" and "nn.Dropout" in dropout["message"]
    # b's Net has no dropout or batch norm: the mode changes nothing (info, not an error).
    mode_free, = found["b/train.py"]
    assert mode_free["severity"] == "info" and "harmless" in mode_free["message"]
