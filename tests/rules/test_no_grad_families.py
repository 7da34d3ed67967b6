"""TRN102 families met on unseen code (session 12), through the real command.

Each family has its bug and the correct look-alike a naive matcher would flag:
- a forward pass whose output reaches `torch.autograd.grad` (an adversarial attack inside a
  validation function, a saliency map) needs autograd: not flagged; the scoring forward
  pass of the same validation is;
- a model bound through a conditional wrapper (`nn.DataParallel(net) if multi_gpu else net`)
  is a model;
- an explicit `module.forward(x)` call is a forward pass of `module` (not in a file whose own
  plain classes define `forward`: a from-scratch numpy network);
- a model class's own method looping over evaluation data (`for x, y in val_loader:
  self.feature(x)`) evaluates its parts; its `forward` and helpers stay inside the model;
- a model frozen for good (every parameter's requires_grad off, never back on, not
  optimised) records no graph without no_grad: not flagged; a partly frozen model, or one
  unfrozen elsewhere in the file, is;
- an inference script (the model in eval mode, nothing in the file trains) runs evaluation
  forward passes whatever is done with their output (drawn, compared with a query's
  features); its look-alikes: the same script run under no_grad by its caller, and a
  training file's frozen reference model in eval mode (its output feeds the loss); a
  wrapper class's model switched to eval in `__init__` and never back counts as in eval
  mode in its other methods;
- a wrapper class whose base (an `nn.Module` in another module) is out of sight, with a
  `forward`: the model switched to eval after its own training loop is evaluated there; a
  plain helper method that hands the output back stays part of a forward pass.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
NET = "nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))"

PGD_VALIDATION = HEAD + """
def validate_pgd(val_loader, model, steps, eps):
    model.eval()
    correct = 0
    for x, y in val_loader:
        x_adv = x.clone()
        for _ in range(steps):
            x_adv.requires_grad_(True)
            output = model(x_adv)
            loss = F.cross_entropy(output, y)
            grad = torch.autograd.grad(loss, x_adv)[0]
            x_adv = (x_adv + eps * grad.sign()).detach()
        {score}
        correct += (scores.argmax(1) == y).sum().item()
    return correct
"""

WRAPPER = HEAD + f"""
class Wrapper:
    def __init__(self, multi_gpu):
        self.network = {NET}
        self.mnetwork = nn.DataParallel(self.network) if multi_gpu else self.network
        self.metric = F.l1_loss if multi_gpu else F.mse_loss

    {{decorator}}
    def predict(self, batch):
        self.network.eval()
        score = self.mnetwork(batch)
        return score.softmax(1).cpu().numpy()

    def evaluate(self, batch, target):
        return self.metric(batch, target).item()
"""

# `Base` lives in another module: the class's module-ness is out of sight, its `forward` is not.
CALIBRATED = HEAD + f"""
from .base import Base

class Calibrated(Base):
    def __init__(self):
        super().__init__()
        self.model = {NET}

    def forward(self, x):
        return self.embed(x)

    def embed(self, x):
        feats = self.model(x)
        return feats

    def fit(self, loader, calib_x, epochs):
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.model.train()
        for _ in range(epochs):
            for x, y in loader:
                opt.zero_grad()
                F.cross_entropy(self.model(x), y).backward()
                opt.step()
        self.model.eval()
        {{calibrate}}
        self.threshold = scores.max().item()
"""

EXPLICIT_FORWARD = HEAD + f"""
net = {NET}
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for x, y in train_loader:
    opt.zero_grad()
    F.cross_entropy(net.forward(x), y).backward()
    opt.step()
net.eval()
{{loop}}
        print((net.forward(x).argmax(1) == y).float().mean().item())
"""

NUMPY_NETWORK = "import numpy as np\nimport torch\n\n" + """
class Dense:
    def __init__(self, n_in, n_out):
        self.w = np.random.randn(n_in, n_out)

    def forward(self, x):
        return x @ self.w

layer = Dense(4, 2)
for x, y in val_loader:
    print((layer.forward(x).argmax(1) == y).mean())
"""

CLASS_EVAL_LOOP = HEAD + """
class Baseline(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.feature = backbone
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.feature.forward(x))

    def val_features(self, val_loader):
        feats = []
        for x, _ in val_loader:
            {wrap}feats.append(self.feature.forward(x).cpu().numpy())
        return feats
"""

FROZEN = HEAD + f"""
model = {NET}
model.load_state_dict(torch.load("model.pt"))
model.eval()
{{freeze}}

def evaluate(loader):
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct

{{tail}}
print(evaluate(test_loader))
"""

FROZEN_SCORER = HEAD + f"""
class FeatureScorer:
    def __init__(self):
        self.extractor = {NET}
        self.extractor.eval().requires_grad_(False)

    def features(self, val_loader):
        return [self.extractor(x).cpu().numpy() for x, _ in val_loader]
"""

UNFREEZE = """def finetune(loader):
    model.requires_grad_(True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
"""

SEARCH_DEMO = HEAD + f"""
def main(paths):
    model = {NET}
    model.load_state_dict(torch.load("ckpt.pt"))
    model.eval()
    query = model(load("query.jpg"))
    for path in paths:
        out = model(load(path))
        show(path, out, out.mm(query.t()))

if __name__ == "__main__":
    {{call}}
"""

REFERENCE_MODEL = HEAD + f"""
policy = {NET}
reference = {NET}
reference.load_state_dict(torch.load("ref.pt"))
reference.eval()
opt = torch.optim.SGD(policy.parameters(), lr=0.1)
for x in loader:
    kl = F.kl_div(policy(x).log_softmax(1), reference(x).softmax(1), reduction="batchmean")
    opt.zero_grad()
    kl.backward()
    opt.step()
"""

EMBEDDER = HEAD + f"""
class Embedder:
    def __init__(self):
        self.model = {NET}
        self.model.load_state_dict(torch.load("ckpt.pt"))
        self.model.eval()

    {{decorator}}
    def embed(self, images):
        return self.model(images)
{{more}}
"""

FINETUNE = """
    def finetune(self, loader):
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.model.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(self.model(x), y).backward()
            opt.step()
        self.model.eval()
"""

CASES = {
    "embedder_bad.py": EMBEDDER.format(decorator="", more=""),
    "embedder_ok.py": EMBEDDER.format(decorator="@torch.no_grad()", more=""),
    "embedder_finetuned_ok.py": EMBEDDER.format(decorator="", more=FINETUNE),
    "inference_demo_bad.py": SEARCH_DEMO.format(call="main(sys.argv[1:])"),
    "inference_demo_ok.py": SEARCH_DEMO.format(call="with torch.no_grad():\n        main(sys.argv[1:])"),
    "reference_model_ok.py": REFERENCE_MODEL,
    "frozen_loop_ok.py": FROZEN.format(freeze="for p in model.parameters():\n    p.requires_grad = False", tail=""),
    "frozen_scorer_ok.py": FROZEN_SCORER,
    "frozen_part_bad.py": FROZEN.format(freeze="for p in model[0].parameters():\n    p.requires_grad = False",
                                        tail=""),
    "frozen_then_unfrozen_bad.py": FROZEN.format(freeze="model.requires_grad_(False)", tail=UNFREEZE),
    "explicit_forward_bad.py": EXPLICIT_FORWARD.format(loop="if True:\n    for x, y in val_loader:"),
    "explicit_forward_ok.py": EXPLICIT_FORWARD.format(loop="with torch.no_grad():\n    for x, y in val_loader:"),
    "numpy_layer_forward_ok.py": NUMPY_NETWORK,
    "class_eval_loop_bad.py": CLASS_EVAL_LOOP.format(wrap=""),
    "class_eval_loop_ok.py": CLASS_EVAL_LOOP.format(wrap="with torch.no_grad():\n                "),
    # The attack's forward pass feeds torch.autograd.grad: autograd is the point.
    "pgd_scored_under_no_grad_ok.py": PGD_VALIDATION.format(
        score="with torch.no_grad():\n            scores = model(x_adv)"),
    # ... and the scoring forward pass of the same function still needs no_grad.
    "pgd_scored_with_grad_bad.py": PGD_VALIDATION.format(score="scores = model(x_adv)"),
    "wrapped_if_multi_gpu_bad.py": WRAPPER.format(decorator=""),
    "wrapped_if_multi_gpu_ok.py": WRAPPER.format(decorator="@torch.no_grad()"),
    "calibrated_with_grad_bad.py": CALIBRATED.format(calibrate="scores = self.model(calib_x)"),
    "calibrated_under_no_grad_ok.py": CALIBRATED.format(
        calibrate="with torch.no_grad():\n            scores = self.model(calib_x)"),
}

EXPECTED = {
    "embedder_bad.py": [("TRN102", 14)],
    "embedder_ok.py": [],
    "embedder_finetuned_ok.py": [],
    "inference_demo_bad.py": [("TRN102", 10), ("TRN102", 12)],
    "inference_demo_ok.py": [],
    "reference_model_ok.py": [],
    "frozen_loop_ok.py": [],
    "frozen_scorer_ok.py": [],
    "frozen_part_bad.py": [("TRN102", 15)],
    "frozen_then_unfrozen_bad.py": [("TRN102", 14)],
    "explicit_forward_bad.py": [("TRN102", 15)],
    "explicit_forward_ok.py": [],
    "numpy_layer_forward_ok.py": [],
    "class_eval_loop_bad.py": [("TRN102", 18)],
    "class_eval_loop_ok.py": [],
    "pgd_scored_under_no_grad_ok.py": [],
    "pgd_scored_with_grad_bad.py": [("TRN102", 17)],
    "wrapped_if_multi_gpu_bad.py": [("TRN102", 15)],
    "wrapped_if_multi_gpu_ok.py": [],
    # `embed` hands the output back to `forward`: no finding there in either file.
    "calibrated_with_grad_bad.py": [("TRN102", 29)],
    "calibrated_under_no_grad_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("no_grad_families"), CASES, "TRN102")


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_grad_family(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
